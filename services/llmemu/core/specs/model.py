"""Model architecture specs and the quantities derived from them.

Every derived quantity (parameters, KV bytes per token) is a pure function of the spec so
that tests can check it against published figures.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ModelSpec(BaseModel):
    """A decoder-only transformer, dense or mixture-of-experts."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: str = Field(description="preset name, e.g. llama-3-8b")
    num_layers: int = Field(gt=0, description="decoder blocks")
    hidden_size: int = Field(gt=0, description="d_model")
    num_heads: int = Field(gt=0, description="query heads")
    num_kv_heads: int = Field(gt=0, description="key/value heads (GQA); equals num_heads for MHA")
    head_dim: int = Field(gt=0, description="width of one head")
    ffn_size: int = Field(gt=0, description="intermediate size of one FFN (one expert for MoE)")
    gated_ffn: bool = Field(True, description="SwiGLU-style gate+up (3 matrices) vs up only (2)")
    num_experts: int = Field(0, ge=0, description="experts per MoE layer; 0 for a dense model")
    experts_per_token: int = Field(0, ge=0, description="top-k routing")
    moe_layer_interval: int = Field(1, ge=1, description="every k-th layer is MoE (GLaM: 2)")
    vocab_size: int = Field(gt=0, description="embedding rows")
    tied_embeddings: bool = Field(False, description="LM head shares the embedding matrix")
    qkv_bias: bool = Field(False, description="bias on the QKV projection (Qwen2)")
    dtype_bytes: int = Field(2, gt=0, description="bytes per activation element (and the default)")
    weight_dtype_bytes: int = Field(
        0, ge=0, description="bytes per weight of the decoder layers (0: dtype_bytes); FP8: 1"
    )
    kv_dtype_bytes: int = Field(0, ge=0, description="bytes per KV-cache element (0: dtype_bytes)")
    comm_dtype_bytes: int = Field(
        0, ge=0, description="bytes per element of the all-reduces (0: dtype_bytes)"
    )
    max_context: int = Field(gt=0, description="longest sequence, tokens")
    source: str = Field("", description="where the numbers come from")

    @model_validator(mode="after")
    def _check(self) -> ModelSpec:
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"num_heads={self.num_heads} is not a multiple of num_kv_heads={self.num_kv_heads}"
            )
        if self.num_experts and not 0 < self.experts_per_token <= self.num_experts:
            raise ValueError(
                f"experts_per_token={self.experts_per_token} must be in 1..num_experts={self.num_experts}"
            )
        return self

    # ---- derived shapes -------------------------------------------------------------
    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def weight_width(self) -> int:
        """Bytes per weight of the decoder layers; the LM head and embedding stay at
        `dtype_bytes`, as FP8 engines leave them (TensorRT-LLM, vLLM, ModelOpt exclude lm_head)."""
        return self.weight_dtype_bytes or self.dtype_bytes

    @property
    def kv_width(self) -> int:
        return self.kv_dtype_bytes or self.dtype_bytes

    @property
    def comm_width(self) -> int:
        return self.comm_dtype_bytes or self.dtype_bytes

    @property
    def q_size(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_size(self) -> int:
        return self.num_kv_heads * self.head_dim

    @property
    def qkv_out(self) -> int:
        """Output width of the fused QKV projection."""
        return self.q_size + 2 * self.kv_size

    @property
    def group_size(self) -> int:
        """Query heads sharing one KV head (deg_grp in Duplex)."""
        return self.num_heads // self.num_kv_heads

    @property
    def ffn_matrices(self) -> int:
        return 3 if self.gated_ffn else 2

    @property
    def num_moe_layers(self) -> int:
        return self.num_layers // self.moe_layer_interval if self.is_moe else 0

    @property
    def num_dense_layers(self) -> int:
        return self.num_layers - self.num_moe_layers


def attention_params(m: ModelSpec) -> int:
    """Weights of one attention block (QKV + output projection, biases ignored)."""
    return m.hidden_size * m.qkv_out + m.q_size * m.hidden_size


def ffn_params(m: ModelSpec) -> int:
    """Weights of one dense FFN, or of one expert."""
    return m.ffn_matrices * m.hidden_size * m.ffn_size


def embedding_params(m: ModelSpec) -> int:
    """Input embedding plus LM head (once when tied)."""
    return m.vocab_size * m.hidden_size * (1 if m.tied_embeddings else 2)


def layer_params(m: ModelSpec) -> int:
    """Weights of all decoder blocks (norms ignored: < 0.01 %)."""
    router = m.hidden_size * m.num_experts
    moe = m.num_moe_layers * (m.num_experts * ffn_params(m) + router)
    dense = m.num_dense_layers * ffn_params(m)
    return m.num_layers * attention_params(m) + moe + dense


def param_count(m: ModelSpec) -> int:
    """Total parameters."""
    return layer_params(m) + embedding_params(m)


def active_param_count(m: ModelSpec) -> int:
    """Parameters touched by one token (top-k experts only)."""
    if not m.is_moe:
        return param_count(m)
    idle = m.num_moe_layers * (m.num_experts - m.experts_per_token) * ffn_params(m)
    return param_count(m) - idle


def weight_bytes(m: ModelSpec) -> int:
    return layer_params(m) * m.weight_width + embedding_params(m) * m.dtype_bytes


def kv_bytes_per_token(m: ModelSpec) -> int:
    """KV cache bytes that one token adds, over all layers."""
    return 2 * m.num_layers * m.kv_size * m.kv_width
