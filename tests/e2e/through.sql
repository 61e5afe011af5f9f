-- Many-to-many through a link table, and many-to-one objects read by field
-- templates (tests/suites/5x-dryrun-*.sh). Portable: PostgreSQL, MariaDB, SQLite.
CREATE TABLE artist (artist_id integer PRIMARY KEY, name varchar(60) NOT NULL);
CREATE TABLE album (album_id integer PRIMARY KEY, title varchar(60) NOT NULL, artist_id integer);
CREATE TABLE track (track_id integer PRIMARY KEY, name varchar(60) NOT NULL, album_id integer);
CREATE TABLE playlist (playlist_id integer PRIMARY KEY, name varchar(60) NOT NULL, listed integer NOT NULL);
CREATE TABLE playlist_track (playlist_id integer NOT NULL, track_id integer NOT NULL,
                             position integer NOT NULL, PRIMARY KEY (playlist_id, track_id));
INSERT INTO artist VALUES (1, 'AC/DC'), (2, 'Accept');
INSERT INTO album VALUES (10, 'For Those About To Rock', 1), (11, 'Balls to the Wall', 2), (12, 'No Artist', NULL);
INSERT INTO track VALUES (100, 'For Those About To Rock (We Salute You)', 10), (101, 'Put The Finger On You', 10),
  (102, 'Balls to the Wall', 11), (103, 'Orphan', NULL), (104, 'Lonely', 12);
INSERT INTO playlist VALUES (1, 'Music', 1), (2, 'Heavy Metal', 1), (3, 'Private', 0), (4, 'Empty', 1);
INSERT INTO playlist_track VALUES (1, 100, 1), (1, 101, 2), (1, 102, 3), (2, 102, 1), (2, 100, 2),
  (3, 100, 1), (1, 104, 4);
