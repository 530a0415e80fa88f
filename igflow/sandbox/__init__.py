"""The sandbox: a faithful local emulator of the retired Instagram API v1."""
