-- 0005: claims by channel.
--
-- Dispatchers claim per channel (anpi.ClaimRequest.Channels). The claim
-- index of 0001 was ordered by next_at alone and held the leased rows too,
-- so a claim for a channel with nothing due read the other channels'
-- backlog. These lead with the channel: a claim reads, for each channel it
-- asks for (every channel when it names none), one range of the due
-- deliveries and one of the expired leases, at most as many rows as its
-- limit, and an idle channel's claim reads nothing. No query needs the old
-- index any more.
--
-- CountDeliveries reads the survey's range of the UNIQUE (survey_id, …)
-- index and each row's state from the table. An index on (survey_id,
-- state) would spare the table once vacuumed, but every enqueue, claim
-- and completion would insert into it too, for a count nothing in a send
-- reads (as in store/sqlite, where it cost a third of the claim and
-- completion throughput).
DROP INDEX deliveries_claim;
CREATE INDEX deliveries_channel_ready ON deliveries (channel, next_at, id) WHERE state IN ('queued', 'failed_temporary');
CREATE INDEX deliveries_channel_leased ON deliveries (channel, lease_until) WHERE state = 'sending';
