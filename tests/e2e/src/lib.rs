//! End-to-end tests of Bluezone live in `tests/`: phones (real `Tracer`s) and the
//! health-authority server (real HTTP on loopback) in one process. This library is empty.
