-- Quickstart shop database (SQLite): countries, customers, orders.
-- sqlite3 quickstart.db < seed.sql
PRAGMA foreign_keys = ON;
DROP TABLE IF EXISTS orders;
DROP TABLE IF EXISTS customers;
DROP TABLE IF EXISTS countries;

CREATE TABLE countries (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TABLE customers (
    customer_id INTEGER PRIMARY KEY,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    city TEXT,
    country_code TEXT REFERENCES countries(code),
    tags_csv TEXT,
    password_hash TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL
);

CREATE TABLE orders (
    order_id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(customer_id),
    total NUMERIC(10,2) NOT NULL,
    status TEXT NOT NULL,
    ordered_at TEXT NOT NULL
);

INSERT INTO countries (code, name) VALUES
    ('FR', 'France'), ('DE', 'Germany'), ('ES', 'Spain'), ('IT', 'Italy'),
    ('US', 'United States'), ('JP', 'Japan');

INSERT INTO customers (customer_id, first_name, last_name, email, phone, city, country_code,
                       tags_csv, password_hash, active, updated_at) VALUES
    (1, 'Alice', 'Martin', ' Alice.Martin@Example.com ', '+33 6 12 34 56 78', 'Paris', 'FR', 'vip,newsletter', 'x1', 1, '2024-01-05T10:00:00Z'),
    (2, 'Bruno', 'Keller', 'bruno@example.de', '+49 (30) 1234-567', 'Berlin', 'DE', 'newsletter', 'x2', 1, '2024-01-06T11:30:00Z'),
    (3, 'Carmen', 'Lopez', 'CARMEN@example.es', '+34 600-111-222', 'Madrid', 'ES', '', 'x3', 1, '2024-01-07T09:15:00Z'),
    (4, 'Dario', 'Rossi', 'dario@example.it', NULL, 'Rome', 'IT', 'vip', 'x4', 1, '2024-01-08T16:45:00Z'),
    (5, 'Emma', 'Smith', 'emma@example.com', '(555) 010-2030', 'Boston', 'US', 'newsletter,beta', 'x5', 1, '2024-01-09T08:00:00Z'),
    (6, 'Fumiko', 'Sato', 'fumiko@example.jp', '+81 3-1234-5678', 'Tokyo', 'JP', NULL, 'x6', 1, '2024-01-10T02:20:00Z'),
    (7, 'Gaston', 'Dupont', 'gaston@example.fr', '06 98 76 54 32', 'Lyon', 'FR', 'beta', 'x7', 0, '2024-01-11T12:00:00Z'),
    (8, 'Hanna', 'Weber', 'hanna@example.de', '+49 89 555 0101', 'Munich', 'DE', 'vip,beta', 'x8', 1, '2024-01-12T14:10:00Z'),
    (9, 'Iker', 'Garcia', 'iker@example.es', '+34 611 222 333', 'Bilbao', 'ES', NULL, 'x9', 1, '2024-01-13T18:30:00Z'),
    (10, 'Julia', 'Brown', 'julia@example.com', '+1 212 555 0199', 'New York', 'US', 'newsletter', 'x10', 1, '2024-01-14T20:05:00Z'),
    (11, 'Kenji', 'Tanaka', 'kenji@example.jp', NULL, 'Osaka', 'JP', 'vip', 'x11', 1, '2024-01-15T07:45:00Z'),
    (12, 'Lucia', 'Bianchi', 'lucia@example.it', '+39 02 1234 5678', 'Milan', 'IT', 'beta', 'x12', 1, '2024-01-16T13:00:00Z');

INSERT INTO orders (order_id, customer_id, total, status, ordered_at) VALUES
    (101, 1, 120.50, 'paid', '2024-02-01T10:00:00Z'),
    (102, 1, 35.00, 'shipped', '2024-02-03T15:20:00Z'),
    (103, 2, 999.99, 'paid', '2024-02-04T09:00:00Z'),
    (104, 3, 15.25, 'cancelled', '2024-02-05T11:11:00Z'),
    (105, 3, 220.00, 'paid', '2024-02-06T17:45:00Z'),
    (106, 4, 48.90, 'pending', '2024-02-07T08:30:00Z'),
    (107, 5, 310.10, 'shipped', '2024-02-08T19:00:00Z'),
    (108, 5, 12.00, 'paid', '2024-02-09T10:10:00Z'),
    (109, 5, 77.70, 'refunded', '2024-02-10T12:12:00Z'),
    (110, 6, 5400.00, 'paid', '2024-02-11T03:00:00Z'),
    (111, 7, 64.00, 'paid', '2024-02-12T16:00:00Z'),
    (112, 8, 18.75, 'shipped', '2024-02-13T09:40:00Z'),
    (113, 8, 145.00, 'paid', '2024-02-14T14:14:00Z'),
    (114, 9, 89.99, 'pending', '2024-02-15T21:00:00Z'),
    (115, 10, 250.00, 'paid', '2024-02-16T10:30:00Z'),
    (116, 10, 19.99, 'paid', '2024-02-17T11:45:00Z'),
    (117, 11, 730.00, 'shipped', '2024-02-18T06:15:00Z'),
    (118, 12, 42.42, 'paid', '2024-02-19T13:37:00Z'),
    (119, 12, 8.50, 'cancelled', '2024-02-20T17:00:00Z'),
    (120, 2, 61.30, 'paid', '2024-02-21T08:05:00Z');
