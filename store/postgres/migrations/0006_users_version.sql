-- 0006: the users version (anpi.DirectoryTx.UsersVersion).
--
-- One counter, moved once by every transaction that wrote users, so that
-- the engine reads the whole directory again only when it changed
-- (reading 100,000 users took most of a second per JMA document). The
-- row lock it takes orders the transactions that write users, which a
-- directory import or an administrator's edit can afford.
CREATE TABLE users_version (
	id integer PRIMARY KEY CHECK (id = 1),
	n  bigint NOT NULL
);
INSERT INTO users_version (id, n) VALUES (1, 0);
