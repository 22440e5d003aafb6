import envs  # noqa: F401  (headless rendering is set up before anything imports miniworld)
