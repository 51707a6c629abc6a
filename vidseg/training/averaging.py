"""An exponential moving average of a model's weights while it trains (EMA, "weight averaging").

The averaged weights follow the trained ones with a lag of about ``1 / (1 - decay)`` steps and
smooth out the step-to-step noise of small batches. They are kept beside the model (the model
itself trains as before), saved as a checkpoint of their own, and can be swapped into the model
for validation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from vidseg.errors import CheckpointError, ConfigError


class WeightAverage:
    """``average = decay * average + (1 - decay) * weights`` after every optimiser step.

    Every floating-point entry of the model's state dict (parameters and buffers) is averaged;
    other entries (counters) are copied. The average starts from the model's weights when it is
    made, so with a decay of 0.99 the starting point weighs less than 1% after 460 updates.

    Args:
        model: the module being trained.
        decay: in (0, 1); 0.99 averages over about the last 100 steps.

    Raises:
        ConfigError: ``decay`` is outside (0, 1).
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"the weight-average decay must be in (0, 1); found {decay}")
        self.decay = decay
        self.updates = 0
        self._weights = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Fold the model's current weights into the average (call after each optimiser step)."""
        for key, value in model.state_dict().items():
            average = self._weights[key]
            if average.is_floating_point():
                average.lerp_(value.detach(), 1.0 - self.decay)
            else:
                average.copy_(value)
        self.updates += 1

    def weights(self) -> dict[str, torch.Tensor]:
        """The averaged state dict (a copy; load it into the model's architecture)."""
        return {k: v.clone() for k, v in self._weights.items()}

    @contextlib.contextmanager
    def applied(self, model: torch.nn.Module) -> Iterator[None]:
        """Run the block with the averaged weights in ``model``; its own weights are restored after."""
        own = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self._weights)
        try:
            yield
        finally:
            model.load_state_dict(own)

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs (see :meth:`load_state_dict`)."""
        return {"decay": self.decay, "updates": self.updates, "weights": self.weights()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue an average saved by :meth:`state_dict` (its decay may differ from this one's).

        Raises:
            CheckpointError: the saved weights do not fit this model.
        """
        weights = state["weights"]
        if weights.keys() != self._weights.keys():
            missing = sorted(self._weights.keys() - weights.keys())[:3]
            extra = sorted(weights.keys() - self._weights.keys())[:3]
            raise CheckpointError(
                f"the saved weight average does not fit this model (missing {missing}, unexpected {extra}); "
                "resume with the model it was trained with"
            )
        for key, value in weights.items():
            self._weights[key].copy_(value)
        self.updates = int(state["updates"])
