"""Local stand-ins for WeChat: the HTTP APIs (`app`) and WeChat's callback server (`simulator`).

    python -m bot.stand_in --port 9100           # the API stand-in
    python -m bot.stand_in.simulator --help      # drive a channel by hand
"""
