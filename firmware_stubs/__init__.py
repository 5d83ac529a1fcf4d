"""qnodeos.firmware_stubs: emulated controller firmware for testing lab drivers without hardware."""
