"""PlatformIO platform class of the offline platform (the name comes from platform.json: "tinyml-mcu")."""

from platformio.public import PlatformBase


class TinymlmcuPlatform(PlatformBase):
    """No packages to install: the toolchain, QEMU and the flashing tools come from PATH."""
