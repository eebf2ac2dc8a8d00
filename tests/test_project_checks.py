"""The file checks used on every bake can fail: they find what they look for."""

from __future__ import annotations

from . import project_checks


def write(root, relative, text):
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_leftover_jinja_is_found_and_expressions_on_purpose_are_not(tmp_path):
    write(tmp_path, "ok.yml", "run: echo ${{ github.sha }}\ncmd: python a.py ${{inputs.x}}\n")
    write(tmp_path, "ok.py", 'print(f"{{literal}} {share:6.1%}")\n')
    write(tmp_path, "bad.yml", "name: {{ cookiecutter.project_slug }}\n")
    write(tmp_path, "bad.md", "{% if cookiecutter.gpu_cluster %}gpu{% endif %}\n")
    write(tmp_path, "bad.py", "x = 1  # {% raw %}\n")
    write(tmp_path, "mixed.yml", "a: ${{ github.ref }} {{ leftover }}\n")
    found = [line.split(":", 1)[0] for line in project_checks.leftover_jinja(tmp_path)]
    assert sorted(found) == ["bad.md", "bad.py", "bad.yml", "mixed.yml"]


def test_parse_errors_name_each_broken_file(tmp_path):
    write(tmp_path, "good.yml", "a: 1\n")
    write(tmp_path, "bad.yml", "a: [1\n")
    write(tmp_path, "bad.json", "{'a': 1}")
    write(tmp_path, "bad.toml", "a = \n")
    errors = project_checks.parse_errors(tmp_path)
    assert sorted(error.split(":", 1)[0] for error in errors) == ["bad.json", "bad.toml", "bad.yml"]
    assert project_checks.data_file_count(tmp_path) == 4
