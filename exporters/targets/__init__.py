"""Publish targets: a folder, git, Netlify, Neocities and rclone remotes."""
