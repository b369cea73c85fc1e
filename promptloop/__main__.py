from promptloop.cli import run

run()
