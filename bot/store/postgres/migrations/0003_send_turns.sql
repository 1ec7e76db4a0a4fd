-- One schedule of message sends for every process of a bot (issue 9). Discord's global
-- rate limit belongs to the bot's token, not to a process: processes sharing a database
-- take their turns here, on the server's clock, so that together they stay under it.

CREATE TABLE send_turns (
    bot_id      bigint PRIMARY KEY,                -- the bot user's id: one limit per token
    next_turn   double precision NOT NULL          -- seconds since 1970 on the server's clock
);
