/* A shared object that is not an EVI module: it exports something else. */
int some_other_function(void) {
    return 42;
}
