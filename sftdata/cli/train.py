"""``sftdata train CONFIG.yaml [--key value ...]``."""

from __future__ import annotations

import click
import orjson

from ..train.config import TrainConfig

_KEYS = ", ".join(TrainConfig.model_fields)


@click.command(
    "train",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    epilog=f"Settings (each also a --flag): {_KEYS}. See docs/train.md.",
)
@click.argument("config", type=click.Path())
@click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
@click.option("--json", "as_json", is_flag=True, help="Print the final metrics as JSON.")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True, help="Train on this many devices of this machine (runs torchrun; gloo on CPU, nccl on CUDA, hccl on Ascend).")
def train_cmd(config: str, overrides: tuple[str, ...], as_json: bool, nproc: int) -> None:
    """Fine-tune a local model (full or LoRA) with stage sft, dpo or kto on CUDA, Ascend NPU or CPU.

    CONFIG is a YAML file with LLaMA-Factory key names; any key given as --key value
    overrides it, e.g. `sftdata train lora.yaml --learning_rate 1e-4 --max_steps 50`.
    `--resume` continues from the latest checkpoint in output_dir. `--nproc N` (or
    `torchrun --nproc_per_node N -m sftdata train CONFIG`) trains on N devices.
    """
    if nproc > 1:
        import subprocess

        from ..train.dist import launch_command

        args = [*overrides, "--json"] if as_json else list(overrides)
        raise SystemExit(subprocess.call(launch_command(nproc, config, args)))
    from ..train import train

    def echo(msg: str) -> None:
        click.echo(msg, err=True)

    metrics = train(config, list(overrides), echo=echo)
    from ..train.dist import from_env

    if not from_env().is_main:
        return
    if as_json:
        click.echo(orjson.dumps(metrics, option=orjson.OPT_INDENT_2).decode())
        return
    eval_part = f", eval loss {metrics['eval_loss']:.4f}" if metrics.get("eval_loss") is not None else ""
    click.echo(
        f"trained {metrics['global_step']} steps in {metrics['train_runtime']:.1f}s: train loss {metrics['train_loss']:.4f}{eval_part}, "
        f"{metrics['trained_tokens']:,} trained tokens ({metrics['trained_tokens_per_second']:.0f}/s) on {metrics['device']}"
    )
