-- 0005: claims by channel.
--
-- Dispatchers claim per channel (anpi.ClaimRequest.Channels). The claim
-- indexes of 0001 were ordered by next_at alone, so a claim for a channel
-- with nothing due read every due row of the other channels, on the single
-- writer connection, every poll interval of every idle channel. These lead
-- with the channel: a claim reads one range of each index per channel it
-- asks for (every channel when it names none), at most as many rows as its
-- limit, and an idle channel's claim reads nothing. No query needs the old
-- indexes any more.
--
-- CountDeliveries reads the survey's range of the UNIQUE (survey_id, …)
-- index and each row's state from the table. An index on (survey_id,
-- state) would count from the index alone, but every claim and every
-- completion would move two of its entries: it made claiming and
-- completing 100,000 deliveries about a third slower, for a count nothing
-- in a send reads.
DROP INDEX deliveries_ready;
DROP INDEX deliveries_leased;
CREATE INDEX deliveries_channel_ready ON deliveries (channel, next_at, id) WHERE state IN ('queued', 'failed_temporary');
CREATE INDEX deliveries_channel_leased ON deliveries (channel, lease_until) WHERE state = 'sending';
