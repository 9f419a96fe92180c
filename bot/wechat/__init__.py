"""Shared mechanics of the WeChat channels (公众号, 微信客服, WeCom app).

One module per job: callback authentication (`callback_auth`), XML parsing
(`xmlmsg`), Redis helpers (`dedup`, `locks`, `undeliverable`),
access tokens (`token_cache`), the HTTP API clients (`api`), reply shaping
(`split`, `options`, `outgoing`), persona texts (`texts`), menu keys (`menu`),
the passive-reply race (`passive`) and the 微信客服 sync loop (`kf_sync`).
"""
