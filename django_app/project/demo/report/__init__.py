"""The demo's report: what a run recorded (model.py), drawn as a sequence diagram of its calls
and events (sequence.py) and one self-contained HTML page (page.py). Pure Python, no Django:
the docs render the committed recordings with it too."""
