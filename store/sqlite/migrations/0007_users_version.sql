-- 0007: the users version (anpi.DirectoryTx.UsersVersion).
--
-- One counter, moved once by every transaction that wrote users, so that
-- the engine reads the whole directory again only when it changed
-- (reading 100,000 users took most of a second per JMA document).
CREATE TABLE users_version (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n  INTEGER NOT NULL
);
INSERT INTO users_version (id, n) VALUES (1, 0);
