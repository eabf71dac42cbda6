"""Thin `openrlhf-rlev <command>` front ends: argument parsing and exit codes, the work is in the layers below."""

__all__ = ["main"]
