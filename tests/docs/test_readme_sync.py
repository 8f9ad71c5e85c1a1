#!/usr/bin/env python3
"""test_readme_sync — scripts/readme_sync.py catches the drifts a forgotten
translation update leaves, names where, and stays quiet about prose, which a
translation rewords by design.

Each case edits one of a frozen pair of the READMEs (fixtures/readme.en.md and
readme.ru.md, copies taken when they were in step) the way a change would, and
leaves the other as it is. Frozen, so that README edits elsewhere do not break
these cases; the real pair is checked by the ctest test_readme_sync."""
import os
import sys
import unittest

ROOT = os.environ.get("RAGD_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import readme_sync  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
with open(os.path.join(FIXTURES, "readme.en.md"), encoding="utf-8") as f:
    EN = f.read()
with open(os.path.join(FIXTURES, "readme.ru.md"), encoding="utf-8") as f:
    RU = f.read()


def edit(text, old, new, count=1):
    assert old in text, f"the fixture does not contain {old!r}"
    return text.replace(old, new, count)


class ReadmeSync(unittest.TestCase):
    def problems(self, en=EN, ru=RU):
        return readme_sync.compare("README.md", en, "README.ru.md", ru)

    def assert_drift(self, problems, *fragments):
        """At least one problem, and one problem holds all fragments."""
        self.assertTrue(problems, "the drift went unnoticed")
        text = "\n".join(problems)
        for p in problems:
            if all(f in p for f in fragments):
                return
        self.fail(f"no problem mentions all of {fragments}:\n{text}")

    def test_the_translation_is_in_step(self):
        self.assertEqual(self.problems(), [])

    def test_a_changed_command_in_a_code_block(self):
        en = edit(EN, '--topic business -k 3', '--topic business -k 5')
        self.assert_drift(self.problems(en), "code block 4", "## Ingesting", "## Загрузка корпуса",
                          "-k 5", "-k 3", "byte-identical")

    def test_a_changed_comment_in_a_code_block(self):
        ru = edit(RU, "# downloads into ./models", "# скачивает в ./models")
        self.assert_drift(self.problems(ru=ru), "code block 3", "## The model", "## Модель", "скачивает")

    def test_a_new_code_block(self):
        en = edit(EN, "## Monitoring\n", "## Monitoring\n\n```sh\n./build/ragd serve --loki-url http://l:3100\n```\n")
        self.assert_drift(self.problems(en), "is missing from README.ru.md", "## Monitoring",
                          "--loki-url http://l:3100")

    def test_a_new_table_row(self):
        en = edit(EN, "| `--workers` | `RAGD_WORKERS` | 64 | threads running `/ask` |\n",
                  "| `--workers` | `RAGD_WORKERS` | 64 | threads running `/ask` |\n"
                  "| `--chat-history` | `RAGD_CHAT_HISTORY` | 20 | turns a chat keeps |\n")
        problems = self.problems(en)
        self.assert_drift(problems, "table 5", "## Configuration", "8 rows × 4 columns", "7 rows × 4 columns")
        self.assert_drift(problems, "row `--chat-history`", "is missing from README.ru.md")

    def test_a_removed_table_row_in_the_translation(self):
        ru = edit(RU, "| `--llm` | `RAGD_LLM` | `mock` | `mock` или `openai` |\n", "")
        self.assert_drift(self.problems(ru=ru), "row `--llm`", "is missing from README.ru.md")

    def test_a_changed_default_in_a_table(self):
        en = edit(EN, "| `RAGD_MAX_BATCH_TOKENS` | 8192 |", "| `RAGD_MAX_BATCH_TOKENS` | 16384 |")
        self.assert_drift(self.problems(en), "row `--max-batch-tokens`", "column 3", "16384", "8192")

    def test_a_changed_figure_in_the_performance_table(self):
        en = edit(EN, "| 862 sentences/s |", "| 870 sentences/s |")
        self.assert_drift(self.problems(en), "## Performance", "column 2", "870", "862")

    def test_a_changed_code_cell(self):
        en = edit(EN, "| `--http-threads` | `RAGD_HTTP_THREADS` |", "| `--http-threads` | `RAGD_HTTP_WORKERS` |")
        self.assert_drift(self.problems(en), "column 2", "RAGD_HTTP_WORKERS", "RAGD_HTTP_THREADS")

    def test_a_new_column(self):
        en = edit(EN, "| library | why |\n| --- | --- |\n| libmicrohttpd |",
                  "| library | why | since |\n| --- | --- | --- |\n| libmicrohttpd |")
        self.assert_drift(self.problems(en), "## Dependencies", "3 cells in README.md, 2 in README.ru.md")

    def test_a_new_table(self):
        en = edit(EN, "## Monitoring\n", "## Monitoring\n\n| metric | what |\n| --- | --- |\n| `ragd_chat_total` | chats |\n")
        self.assert_drift(self.problems(en), "has no counterpart in README.ru.md", "## Monitoring",
                          "2 rows × 2 columns")

    def test_a_new_section(self):
        en = edit(EN, "## Monitoring\n", "## Chat\n\n`GET /chat` is a page.\n\n## Monitoring\n")
        problems = self.problems(en)
        self.assert_drift(problems, "headings differ: 13 in README.md, 12 in README.ru.md", ">> README.md:",
                          "## Chat", "(missing)")
        self.assert_drift(problems, "section ## Chat (README.md:", "has no counterpart in README.ru.md")
        self.assertEqual(len(problems), 2, problems)  # the sections after it still pair up

    def test_a_new_section_and_a_changed_one(self):
        en = edit(EN, "## Monitoring\n", "## Chat\n\n`GET /chat` is a page.\n\n## Monitoring\n")
        en = edit(en, "2 cores, AVX-512", "4 cores, AVX-512")
        problems = self.problems(en)
        self.assert_drift(problems, "section ## Chat (README.md:")
        self.assert_drift(problems, "figures in ## Performance / ## Производительность",
                          "only in README.md: 4", "only in README.ru.md: 2")

    def test_a_section_left_out_of_the_translation(self):
        start = RU.index("## Мониторинг\n")
        ru = RU[:start] + RU[RU.index("## Производительность\n"):]
        problems = self.problems(ru=ru)
        self.assert_drift(problems, "section ## Monitoring (README.md:", "has no counterpart in README.ru.md")
        self.assert_drift(problems, ">> README.md:", "## Monitoring", "(missing)")

    def test_a_new_subsection(self):
        ru = edit(RU, "### Ограничения\n", "#### Ограничения\n")
        self.assert_drift(self.problems(ru=ru), "headings differ", "#### Ограничения", "### Limits")

    def test_a_new_inline_code_span_in_prose(self):
        en = edit(EN, "`ragd <command> --help` lists each command's flags",
                  "`ragd <command> --help` (or `ragd help <command>`) lists each command's flags")
        self.assert_drift(self.problems(en), "inline code", "## Roles", "only in README.md: `ragd help <command>`")

    def test_a_changed_figure_in_prose(self):
        en = edit(EN, "keeps cosine ≥ 0.998 to fp32", "keeps cosine ≥ 0.997 to fp32")
        self.assert_drift(self.problems(en), "figures", "## Performance", "only in README.md: 0.997",
                          "only in README.ru.md: 0.998")

    def test_a_decimal_comma_in_the_translation(self):
        ru = edit(RU, "с весом 0.25", "с весом 0,25")
        self.assert_drift(self.problems(ru=ru), "figures", "0,25", "decimals with a point")

    def test_a_new_link(self):
        en = edit(EN, "see `fuzz/README.md`.", "see [`fuzz/README.md`](fuzz/README.md).")
        self.assert_drift(self.problems(en), "link targets", "## Development", "only in README.md: fuzz/README.md")

    def test_an_anchor_to_another_heading(self):
        en = edit(EN, "see [The model](#the-model)", "see [Ingesting](#ingesting)")
        self.assert_drift(self.problems(en), "link targets", "## Configuration",
                          "only in README.md: #… (to ## Ingesting)", "only in README.ru.md: #… (to ## The model)")

    def test_a_broken_anchor(self):
        ru = edit(RU, "[Модель](#модель)", "[Модель](#the-model)")
        self.assert_drift(self.problems(ru=ru), "link #the-model matches no heading of README.ru.md")

    def test_the_language_links_are_checked(self):
        ru = edit(RU, "[Русский](./README.ru.md) | [English](./README.md)\n", "")
        self.assert_drift(self.problems(ru=ru), "link targets", "./README.ru.md")

    def test_reworded_prose_is_not_drift(self):
        en = edit(EN, "One binary, one code base; the first argument picks the role.",
                  "A single binary and a single code base: which role it plays is its first argument.")
        en = edit(en, "Each limit answers with a JSON error, never a dropped connection or a crash.",
                  "Past any limit the answer is a JSON error; the connection is not dropped and nothing crashes.")
        ru = edit(RU, "Один бинарник, одна кодовая база; роль задаётся первым аргументом.",
                  "Бинарник один, кодовая база одна, а роль выбирает первый аргумент.")
        self.assertEqual(self.problems(en, ru), [])

    def test_thousands_separators_are_the_same_figure(self):
        ru = edit(RU, "90\u00a0868\u00a0376 байт", "90 868 376 байт")
        self.assertEqual(self.problems(ru=ru), [])
        ru = edit(RU, "90\u00a0868\u00a0376 байт", "90 868 377 байт")
        self.assert_drift(self.problems(ru=ru), "figures", "## Модель", "90868377")

    def test_the_command_line_reports_drift(self):
        import subprocess
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            en_path, ru_path = os.path.join(tmp, "README.md"), os.path.join(tmp, "README.ru.md")
            with open(en_path, "w", encoding="utf-8") as f:
                f.write(edit(EN, "-k 3", "-k 4"))
            with open(ru_path, "w", encoding="utf-8") as f:
                f.write(RU)
            script = os.path.join(ROOT, "scripts", "readme_sync.py")
            run = subprocess.run([sys.executable, script, en_path, ru_path], capture_output=True, text=True)
            self.assertEqual(run.returncode, 1)
            self.assertIn("README.ru.md is out of step with README.md (1 differences)", run.stdout)
            self.assertIn("code block 4", run.stdout)
            run = subprocess.run([sys.executable, script, en_path, en_path], capture_output=True, text=True)
            self.assertEqual(run.returncode, 0, run.stdout)


if __name__ == "__main__":
    unittest.main()
