"""`darla domains`: the table, the contact sheet, and a bad name."""

import imageio.v3 as iio

from darla.cli import main


def test_contact_sheet_is_a_png_with_a_row_per_domain(tmp_path, capsys):
    sheet = tmp_path / "demo" / "domains.png"
    code = main(
        [
            "domains",
            "--sheet",
            str(sheet),
            "--domains",
            "A_room1,A_room2",
            "--frames",
            "3",
            "--obs-size",
            "32",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "A_room2" in out and "target" in out and f"contact sheet: {sheet}" in out
    image = iio.imread(sheet)
    assert image.ndim == 3 and image.shape[0] > 100
    assert not list(sheet.parent.glob(".*tmp*")), "no temporary file left behind"


def test_unknown_domain_is_one_line_and_exit_code_2(tmp_path, capsys):
    code = main(["domains", "--sheet", str(tmp_path / "x.png"), "--domains", "A_room1,Z_room"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip().startswith(
        "darla: error: unknown domain 'Z_room'; valid domains: A_room1"
    )
    assert captured.out == ""
    assert not (tmp_path / "x.png").exists()
