// The generated header must compile cleanly as C++ (-pedantic -Wall -Wextra
// -Werror) and give C linkage to the API.
#include "qemu-threads.h"

#include <type_traits>

static_assert(std::is_same<decltype(&threads_wait_done), void (*)(Threads *)>::value,
              "threads_wait_done keeps the seed's signature");
static_assert(sizeof(ThreadRequest) == 2 * sizeof(void *), "seed layout");

int main()
{
    threads_destroy(nullptr);
    return 0;
}
