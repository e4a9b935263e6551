"""Model backends behind one small interface (see DESIGN.md, "Model backends").

Importing this package loads nothing heavy: torch, transformers, openai and sentence-transformers are imported by
the backend that needs them, when it is created.
"""

from oversight.models.base import Backend
from oversight.models.config import (
    ExtractiveConfig, HFConfig, ModelConfig, ModelsConfig, OpenAIConfig, ScriptedConfig, load_config, model_config,
)
from oversight.models.errors import ModelConfigError, ModelError, ModelNotFound, ModelTimeout
from oversight.models.registry import configure, create_backend, get_model, model_for_role, model_infos
from oversight.models.types import Completion, Message, Request, Sampling, Task, as_request, messages_for

__all__ = [
    "Backend", "Completion", "ExtractiveConfig", "HFConfig", "Message", "ModelConfig", "ModelConfigError",
    "ModelError", "ModelNotFound", "ModelTimeout", "ModelsConfig", "OpenAIConfig", "Request", "Sampling",
    "ScriptedConfig", "Task", "as_request", "configure", "create_backend", "get_model", "load_config",
    "messages_for", "model_config", "model_for_role", "model_infos",
]
