"""Rasa actions of the FAQ fallback (services live in the sibling modules).

action_faq_fallback  runs on nlu_fallback (low intent confidence, or the FAQ
                     gate found the response selector unsure): semantic match,
                     then answer / "猜你想问" / honest fallback; and on
                     out_of_scope (no FAQ guess, the persona says what she can
                     help with). Always recorded in the inbox: both are
                     questions the bot could not answer.
action_faq_choice    runs on the payload of a "猜你想问" option.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import Context, CustomerAction, latest_intent, latest_user_event
from actions.faq import inbox
from actions.faq.index import Hit
from actions.faq.matcher import ANSWER, NONE, SUGGEST, Decision, decide, get_matcher
from actions.faq.settings import load_settings
from actions.faq.titles import title
from actions.handoff import BOT_FAILED, failed_last_time, hand_off

logger = logging.getLogger(__name__)

CHOICE_INTENT = "faq_choice"
OUT_OF_SCOPE_INTENT = "out_of_scope"
KEY_ENTITY = "faq_key"
# The same command every response offers ("回复「转人工」"); not persona voice.
HANDOFF_BUTTON = {"title": "转人工", "payload": "/human_handoff"}


def choice_payload(key: str) -> str:
    return f"/{CHOICE_INTENT}{json.dumps({KEY_ENTITY: key})}"


def typed_text(tracker: Tracker) -> str:
    """What the customer wrote, as the transcript keeps it. `latest_message`
    carries the text the classifiers saw (typos, dialect and fillers read as
    standard words), which is right for matching but not for ops reading the inbox."""
    return str(latest_user_event(tracker).get("text") or "").strip()


def classifier_guesses(tracker: Tracker, limit: int = 3) -> List[Hit]:
    """The FAQ response selector's ranking for the latest message (kept by the gate)."""
    selector = (tracker.latest_message.get("response_selector") or {}).get("faq") or {}
    hits = []
    for item in selector.get("ranking") or []:
        key = str(item.get("intent_response_key", "")).split("/", 1)[-1]
        if key:
            hits.append(Hit(key, float(item.get("confidence") or 0.0), ""))
    return hits[:limit]


def _suggest_from_classifier(hits: List[Hit], limit: int) -> Decision:
    # Without the embedding model the selector's ranking is the best we have.
    return Decision(SUGGEST, hits[:limit]) if hits else Decision(NONE, [])


class ActionFaqFallback(CustomerAction):
    def name(self) -> Text:
        return "action_faq_fallback"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        settings = load_settings()
        text = (tracker.latest_message.get("text") or "").strip()
        out_of_scope = latest_intent(tracker) == OUT_OF_SCOPE_INTENT
        from_classifier = [] if out_of_scope else classifier_guesses(tracker, limit=10)
        matcher = await asyncio.to_thread(get_matcher)
        vector = None
        if matcher is not None and text:
            vector = await asyncio.to_thread(matcher.embed, text)  # also groups the inbox
        if out_of_scope:
            decision = Decision(NONE, [])
        elif vector is not None:
            # "猜你想问" ranks every key by the embeddings, the lexical index and the classifier together
            every_key = len(matcher.index.keys)
            decision = decide(matcher.search_vector(vector, every_key), settings,
                              [from_classifier, matcher.lexical_ranking(text)])
        else:
            decision = _suggest_from_classifier(from_classifier, settings.suggestions)

        if text:
            guesses = [{"key": h.key, "score": round(h.score, 4), "source": "semantic"} for h in decision.hits]
            guesses += [{"key": h.key, "score": round(h.score, 4), "source": "classifier"} for h in from_classifier[:3]]
            entry = inbox.InboxEntry(
                text=typed_text(tracker) or text, customer=ctx.cid, channel=tracker.get_latest_input_channel() or "",
                outcome=OUT_OF_SCOPE_INTENT if out_of_scope else decision.kind, guesses=guesses,
            )
            await inbox.record(ctx.redis, entry, vector, settings)

        answered = decision.kind in (ANSWER, SUGGEST) and bool(decision.key or decision.hits)
        if not answered and failed_last_time(tracker):
            return await hand_off(dispatcher, tracker, ctx, BOT_FAILED)  # twice "I don't know": a guide takes it
        if out_of_scope:
            dispatcher.utter_message(response="utter_out_of_scope")
        elif decision.kind == ANSWER and decision.key:
            dispatcher.utter_message(response="utter_faq_matched", question=title(decision.key))
            dispatcher.utter_message(response=f"utter_faq/{decision.key}")
        elif decision.kind == SUGGEST and decision.hits:
            buttons = [{"title": title(h.key), "payload": choice_payload(h.key)} for h in decision.hits]
            buttons.append(dict(HANDOFF_BUTTON))
            dispatcher.utter_message(response="utter_faq_suggest", buttons=buttons)
        else:
            dispatcher.utter_message(response="utter_faq_no_match")
        return []


def _warm_up() -> None:
    """Load the model when the action server starts, not on a consumer's first question:
    in Sanic's serving worker only (SANIC_WORKER_NAME), not in its manager process,
    which imports the actions too but answers nothing (a second copy of the model)."""
    if os.environ.get("FAQ_WARMUP", "1") != "0" and os.environ.get("SANIC_WORKER_NAME"):
        threading.Thread(target=get_matcher, name="faq-matcher-warm-up", daemon=True).start()


_warm_up()


class ActionFaqChoice(Action):
    def name(self) -> Text:
        return "action_faq_choice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        key: Optional[str] = next(tracker.get_latest_entity_values(KEY_ENTITY), None)
        response = f"utter_faq/{key}"
        if key and response in (domain.get("responses") or {}):
            dispatcher.utter_message(response=response)
        else:
            logger.warning("faq_choice with unknown key %r", key)
            dispatcher.utter_message(response="utter_faq_no_match")
        return []
