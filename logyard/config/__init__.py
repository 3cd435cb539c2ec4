"""Typed configuration: one model per component, loaded from YAML with line-precise errors.

`ServerConfig` lives in `server.py`, `AgentConfig` in `agent.py`; `loader.load_model` turns a YAML file
into either, naming the key path and line of every problem.
"""

from logyard.config.loader import load_model, parse_model

__all__ = ["load_model", "parse_model"]
