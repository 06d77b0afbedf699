"""Keys: where the identity comes from (lookup), the unlock agent, the Secret type and key changes."""
