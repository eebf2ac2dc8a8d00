from promptflow.core import tool


@tool
def my_python_tool(prompt: str, max_tokens: str) -> str:
    return prompt[: int(max_tokens)]
