"""The persona speaks first: proactive messages under WeChat's contact rules (issue 14)."""
