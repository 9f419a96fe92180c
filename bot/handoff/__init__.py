"""The Rasa side of a handoff to a guide (issue 12): the channels' gate that gives a
held conversation's messages to the guide, the guide's commands in the WeCom app,
and the worker that delivers the handoff outbox (common/handoff_session.py)."""
