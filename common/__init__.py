"""Code both runtimes use (Rasa on Python 3.10, the action server on 3.11).

Standard library (and redis-py, which both environments pin) only: nothing
here may import rasa, rasa_sdk, sanic, torch, `bot` or `actions`
(tests/unit/test_common_package.py checks it).
"""
