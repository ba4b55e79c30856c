"""The task model (a Hugging Face LlamaForCausalLM) and its checkpoints.

A checkpoint is a folder: config.json (the Llama config), weights-N.safetensors
(bf16 shards of at most 15 MiB: what the GPU machine sends back is limited to
16 MiB a file and 8 files a call), trainer_state.json (counters, history) and,
only where asked, optimizer.pt (too large to travel; kept for a resume on the
same machine).
"""
import json
import os

import torch
import transformers
from safetensors.torch import load_file, save_file

PRESETS = {
    # The bundled model: bf16 weights ~22 MB (<= 25 MB), head_dim 64 (resa's
    # fast CUDA kernels), GQA 8/4 (the lookups are attention's work: 4 KV
    # heads a layer rather than 2, for a narrower MLP: the task's arithmetic
    # is a small table), 8K positions (refinement prompts ~5.5K).
    "base": dict(hidden_size=512, num_hidden_layers=6, num_attention_heads=8,
                 num_key_value_heads=4, head_dim=64, intermediate_size=640,
                 max_position_embeddings=8192),
    # The CPU check that the recipe learns (README: "CPU toy").
    "toy": dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                num_key_value_heads=2, head_dim=64, intermediate_size=256,
                max_position_embeddings=8192),
    # The CPU smoke test.
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                 num_key_value_heads=1, head_dim=32, intermediate_size=128,
                 max_position_embeddings=8192),
}
SHARD_BYTES = 15 << 20
STATE = "trainer_state.json"
OPTIMIZER = "optimizer.pt"


def make_config(preset, vocab_size, bos_id, eos_id, pad_id):
    return transformers.LlamaConfig(vocab_size=vocab_size, tie_word_embeddings=False,
                                    rms_norm_eps=1e-5, bos_token_id=bos_id,
                                    eos_token_id=eos_id, pad_token_id=pad_id,
                                    **PRESETS[preset])


def create(config, attn="sdpa"):
    return transformers.LlamaForCausalLM._from_config(config, attn_implementation=attn,
                                                      dtype=torch.float32)


def save(model, folder, state, optimizer=None):
    """Weights as bf16 shards; the previous checkpoint's files in `folder`
    are replaced."""
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.startswith("weights-") and name.endswith(".safetensors"):
            os.remove(os.path.join(folder, name))
    shards, size = [{}], 0
    for name, t in model.state_dict().items():
        t = t.detach().to(torch.bfloat16).contiguous().cpu()
        nbytes = t.numel() * t.element_size()
        if shards[-1] and size + nbytes > SHARD_BYTES:
            shards.append({})
            size = 0
        shards[-1][name] = t
        size += nbytes
    for i, shard in enumerate(shards):
        save_file(shard, os.path.join(folder, f"weights-{i}.safetensors"))
    model.config.save_pretrained(folder)
    with open(os.path.join(folder, STATE), "w") as f:
        json.dump(state, f, indent=1)
    if optimizer is not None:
        torch.save(optimizer.state_dict(), os.path.join(folder, OPTIMIZER))


def load(folder, attn="sdpa"):
    """(model in fp32, trainer state dict, optimizer state dict or None)."""
    config = transformers.LlamaConfig.from_pretrained(folder)
    model = create(config, attn)
    weights = {}
    for name in sorted(os.listdir(folder)):
        if name.startswith("weights-") and name.endswith(".safetensors"):
            weights.update(load_file(os.path.join(folder, name)))
    if not weights:
        raise SystemExit(f"{folder}: no weights-*.safetensors")
    model.load_state_dict({k: v.float() for k, v in weights.items()}, strict=True)
    with open(os.path.join(folder, STATE)) as f:
        state = json.load(f)
    opt_path = os.path.join(folder, OPTIMIZER)
    opt = torch.load(opt_path, map_location="cpu") if os.path.exists(opt_path) else None
    return model, state, opt


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())
