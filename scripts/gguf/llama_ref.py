"""An independent LLaMA forward pass in numpy (float64): RMSNorm, rotate-half RoPE, grouped-query
causal attention, SwiGLU, Granite's multipliers. Takes Hugging Face tensor names and shapes
([out, in] matrices). Used to make ferry's golden data; shares no code with ferry."""
import numpy as np


def rms(x, g, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g


def rope(x, pos, theta):  # x [T, heads, D]
    d = x.shape[-1]
    inv = 1.0 / (theta ** (np.arange(0, d, 2, dtype=np.float64) / d))
    ang = pos[:, None] * inv[None, :]
    cos = np.cos(np.concatenate([ang, ang], -1))[:, None, :]
    sin = np.sin(np.concatenate([ang, ang], -1))[:, None, :]
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * cos + np.concatenate([-x2, x1], -1) * sin


def forward(w, cfg, ids):
    """Logits [T, V] of one sequence."""
    H, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg.get("head_dim", H // nh)
    eps, theta = cfg["rms_norm_eps"], cfg.get("rope_theta", 10000.0)
    em, rm = cfg.get("embedding_multiplier", 1.0), cfg.get("residual_multiplier", 1.0)
    am, ls = cfg.get("attention_multiplier", 1.0 / np.sqrt(D)), cfg.get("logits_scaling", 1.0)
    T = len(ids)
    pos = np.arange(T, dtype=np.float64)
    x = w["model.embed_tokens.weight"][ids] * em
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        a = rms(x, w[p + "input_layernorm.weight"], eps)
        q = (a @ w[p + "self_attn.q_proj.weight"].T).reshape(T, nh, D)
        k = (a @ w[p + "self_attn.k_proj.weight"].T).reshape(T, nkv, D)
        v = (a @ w[p + "self_attn.v_proj.weight"].T).reshape(T, nkv, D)
        q, k = rope(q, pos, theta), rope(k, pos, theta)
        rep = nh // nkv
        k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
        s = np.einsum("thd,shd->hts", q, k) * am + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        o = np.einsum("hts,shd->thd", s, v).reshape(T, nh * D)
        x = x + rm * (o @ w[p + "self_attn.o_proj.weight"].T)
        a = rms(x, w[p + "post_attention_layernorm.weight"], eps)
        g = a @ w[p + "mlp.gate_proj.weight"].T
        u = a @ w[p + "mlp.up_proj.weight"].T
        x = x + rm * (((g / (1 + np.exp(-g))) * u) @ w[p + "mlp.down_proj.weight"].T)
    x = rms(x, w["model.norm.weight"], eps)
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return x @ head.T / ls


def greedy(w, cfg, ids, n):
    ids = list(ids)
    out = []
    for _ in range(n):
        t = int(np.argmax(forward(w, cfg, np.array(ids))[-1]))
        out.append(t)
        ids.append(t)
    return out
