"""The commands layer: what each CLI command does, between click (``cli.py``) and the pipeline.

``cli.py`` declares options and arguments; the modules here load the project, open databases,
call the generated package and turn its errors into one-line ``click`` errors.
"""
