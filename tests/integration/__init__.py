"""End-to-end tests: scripted calls on the emulator, fsapp's flows, a real PostgreSQL."""
