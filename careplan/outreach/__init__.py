"""Reaching the member: messages by SMS and WeChat, with consent.

Consent to be contacted per member and channel (consent), the message templates in
YAML beside the protocols (templates), the rules of sending (rules: quiet hours, the
weekly cap, whether a message's reason still stands), the day's build from the plans,
refills, lectures and occasions (build), the outbox (outbox) and its delivery through a
provider (provider: the interface; aliyun, wechat and log: the providers), delivery
receipts and replies such as 退订 (callbacks).

May import: access, adherence, clock, config, db, errors, lectures, members, models, plans,
trust, validation, vocab, outreach.
"""
