"""The built-in templates, as data. ``{eos}`` is replaced by the tokenizer's EOS token
when :func:`~sftdata.templates.get_template` is given one (alpaca, vicuna, plain)."""

from __future__ import annotations

import dataclasses

from .base import HERMES, ChatTemplate, ToolStyle, Turn

QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
_CHATML_ROLES = {
    "system": Turn("<|im_start|>system\n", "<|im_end|>\n"),
    "user": Turn("<|im_start|>user\n", "<|im_end|>\n"),
    "assistant": Turn("<|im_start|>assistant\n", "<|im_end|>", "\n"),
    "tool": Turn("<|im_start|>tool\n", "<|im_end|>\n"),
}
# Qwen2.5 puts consecutive tool results in one user turn, each in <tool_response> tags.
_QWEN_TOOLS = ToolStyle(
    preamble=HERMES.preamble,
    postamble=HERMES.postamble,
    result_group=Turn("<|im_start|>user", "<|im_end|>\n"),
    result_item=Turn("\n<tool_response>\n", "\n</tool_response>"),
)

CHATML = ChatTemplate("chatml", _CHATML_ROLES, stop="<|im_end|>", tools=_QWEN_TOOLS, summary="ChatML (<|im_start|>role ... <|im_end|>), no default system prompt")
QWEN = ChatTemplate(
    "qwen",
    _CHATML_ROLES,
    stop="<|im_end|>",
    default_system=QWEN_SYSTEM,
    tools=_QWEN_TOOLS,
    media={"image": "<|vision_start|><|image_pad|><|vision_end|>", "video": "<|vision_start|><|video_pad|><|vision_end|>", "audio": "<|audio_bos|><|AUDIO|><|audio_eos|>"},
    media_model="qwen2-vl",
    summary="Qwen2.5 (ChatML, default system prompt, Hermes-style tools)",
)
# LLaMA-Factory's qwen2_vl template (Qwen2-VL and Qwen2.5-VL): Qwen2.5's, with the
# older default system prompt; images expand to their real <|image_pad|> count.
QWEN2_VL = dataclasses.replace(QWEN, name="qwen2_vl", default_system="You are a helpful assistant.",
                               summary="Qwen2-VL / Qwen2.5-VL (LLaMA-Factory's qwen2_vl: ChatML, \"You are a helpful assistant.\", images in real tokens)")
LLAMA3 = ChatTemplate(
    "llama3",
    {
        "system": Turn("<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>"),
        "user": Turn("<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>"),
        "assistant": Turn("<|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>"),
        "tool": Turn("<|start_header_id|>ipython<|end_header_id|>\n\n", "<|eot_id|>"),
    },
    stop="<|eot_id|>",
    bos="<|begin_of_text|>",
    tools=ToolStyle(
        preamble="\n\nYou have access to the following functions. To call a function, respond with JSON of the form "
        '{"name": function name, "parameters": dictionary of argument name and its value}.\n\n',
        postamble="",
        spec_sep="\n\n",
        spec_indent=4,
        call_prefix="",
        call_suffix="",
        args_key="parameters",
        result_item=Turn(),
    ),
    summary="Llama 3 / 3.1 (header ids, <|eot_id|>, tool results as ipython turns)",
)
LLAMA2 = ChatTemplate(
    "llama2",
    {
        "system": Turn("<<SYS>>\n", "\n<</SYS>>\n\n"),
        "user": Turn("<s>[INST] ", " [/INST]"),
        "assistant": Turn(" ", " </s>"),
        "tool": Turn("<s>[INST] ", " [/INST]"),
    },
    stop="</s>",
    system_mode="in_user",
    tools=ToolStyle(HERMES.preamble, HERMES.postamble, result_item=Turn("<tool_response>\n", "\n</tool_response>")),
    summary="Llama 2 chat ([INST] <<SYS>> ... <</SYS>> ... [/INST])",
)
MISTRAL = ChatTemplate(
    "mistral",
    {
        "system": Turn("", "\n\n"),
        "user": Turn("[INST] ", "[/INST]"),
        "assistant": Turn(" ", "</s>"),
        "tool": Turn("[TOOL_RESULTS] ", "[/TOOL_RESULTS]"),
    },
    stop="</s>",
    bos="<s>",
    system_mode="in_user",
    tools=ToolStyle(
        preamble="[AVAILABLE_TOOLS] [",
        postamble="][/AVAILABLE_TOOLS]",
        spec_sep=", ",
        call_prefix="[TOOL_CALLS] [",
        call_suffix="]",
        call_sep=" ",
        content_sep=" ",
        result_item=Turn(),
    ),
    summary="Mistral instruct ([INST] ... [/INST], system in the first user turn)",
)
VICUNA = ChatTemplate(
    "vicuna",
    {
        "system": Turn("", " "),
        "user": Turn("USER: ", " "),
        "assistant": Turn("ASSISTANT: ", "{eos}"),
        "tool": Turn("TOOL: ", " "),
    },
    stop="{eos}",
    default_system="A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions.",
    summary="Vicuna v1.1 (USER: ... ASSISTANT: ...)",
)
ALPACA = ChatTemplate(
    "alpaca",
    {
        "system": Turn("", "\n\n"),
        "user": Turn("### Instruction:\n", "\n\n"),
        "assistant": Turn("### Response:\n", "{eos}", "\n\n"),
        "tool": Turn("### Input:\n", "\n\n"),
    },
    stop="{eos}",
    default_system="Below is an instruction that describes a task. Write a response that appropriately completes the request.",
    input_system="Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.",
    input_turn=Turn("\n\n### Input:\n", ""),
    summary="Stanford Alpaca (### Instruction / ### Input / ### Response)",
)
PLAIN = ChatTemplate(
    "plain",
    {
        "system": Turn("", "\n\n"),
        "user": Turn("", "\n"),
        "assistant": Turn("", "{eos}", "\n"),
        "tool": Turn("", "\n"),
    },
    stop="{eos}",
    summary="Plain text: turns on their own lines, EOS after each answer",
)

BUILTIN: tuple[ChatTemplate, ...] = (QWEN, QWEN2_VL, CHATML, LLAMA3, LLAMA2, MISTRAL, VICUNA, ALPACA, PLAIN)
ALIASES: dict[str, str] = {"qwen2": "qwen", "qwen2.5": "qwen", "qwen2-vl": "qwen2_vl", "qwen2.5-vl": "qwen2_vl", "qwen2_5_vl": "qwen2_vl", "llama3.1": "llama3", "llama-3": "llama3", "llama-2": "llama2", "default": "plain"}
