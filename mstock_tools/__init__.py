"""Project tools around the plugin: the console entry point, the demo and the installer.

Not part of the drop-in ``broker/mstock`` directory; installed with the project.
"""
