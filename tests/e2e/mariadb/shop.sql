-- Mapped-tables fixture for tests/suites/51-dryrun-mariadb.sh (same data as the PostgreSQL one).
DROP TABLE IF EXISTS countries, customers, orders, invoice_2023, invoice_2024, invoices_old, people;
CREATE TABLE countries (code VARCHAR(64) PRIMARY KEY, name VARCHAR(64) NOT NULL);
INSERT INTO countries VALUES ('FR', 'France'), ('DE', 'Germany'), ('JP', 'Japan');
CREATE TABLE customers (
    customer_id integer PRIMARY KEY, first_name VARCHAR(64), last_name VARCHAR(64), email VARCHAR(64), phone VARCHAR(64),
    city VARCHAR(64), country_code VARCHAR(64), tags_csv VARCHAR(64), password_hash VARCHAR(64), created_by VARCHAR(64)
);
INSERT INTO customers VALUES
 (1, 'Alice', 'Martin', ' Alice.Martin@Example.COM ', '+33 6 12-34', 'Paris', 'FR', 'vip, newsletter', 'h1', 'u1'),
 (2, 'Bruno', 'Keller', 'bruno@example.de', NULL, 'Berlin', 'DE', 'beta', 'h2', 'u2'),
 (3, 'Chie', 'Sato', NULL, '(03) 1234', 'Tokyo', 'XX', NULL, 'h3', 'u3');
CREATE TABLE orders (
    order_id integer PRIMARY KEY, customer_id integer, total DECIMAL(10,2), status VARCHAR(64), ordered_at date
);
-- customer 1: three orders inserted out of date order; 2: one; 3: none
INSERT INTO orders VALUES
 (10, 1, 19.90, 'paid', '2024-03-02'),
 (11, 1, 250.00, 'shipped', '2024-01-15'),
 (12, 2, 5.50, 'paid', '2024-02-01'),
 (13, 1, 100.10, 'cancelled', '2024-02-20');
CREATE TABLE invoice_2023 (id integer PRIMARY KEY, amount DECIMAL(8,2), note VARCHAR(64));
CREATE TABLE invoice_2024 (id integer PRIMARY KEY, amount DECIMAL(8,2), note VARCHAR(64));
CREATE TABLE invoices_old (id integer PRIMARY KEY, amount DECIMAL(8,2));
INSERT INTO invoice_2023 VALUES (1, 10.00, 'n1'), (2, 20.50, 'n2');
INSERT INTO invoice_2024 VALUES (1, 30.25, 'n3');
INSERT INTO invoices_old VALUES (1, 1.00);
CREATE TABLE people (id integer PRIMARY KEY, name VARCHAR(64), email VARCHAR(64), age integer, country VARCHAR(64));
INSERT INTO people VALUES
 (1, 'Ann', 'ann@example.com', 70, 'FR'),
 (2, 'Bob', 'BOB@Example.com', 70, 'DE'),
 (3, 'Zoe', 'zoe@mail.org', 30, 'DE'),
 (4, 'Max', 'max@spam.org', 30, 'FR'),
 (5, 'Eve', 'eve@spam.org', 30, 'DE'),
 (6, 'Leo', 'leo@mail.org', 30, 'FR'),
 (7, 'Ida', NULL, 10, NULL),
 (8, 'Al', 'al@example.com.evil', 99, 'FR'),
 (9, 'Ned', 'ned@mail.org', 100, 'DE');
