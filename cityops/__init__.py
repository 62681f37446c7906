"""CityOps: the composition root — configuration, the CLI, and the wiring that starts the parts."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
