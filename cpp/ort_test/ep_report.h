// The Systolic EP's report (ep/ort/README.md, "Report") as ort_test prints it after the runs.
#pragma once

#include <ostream>
#include <string>

namespace ort_test {

// The config the session ran on with its mode and threads; the placement in nodes and MACs; every node left on the
// CPU with its reason (nodes with MACs one by one, the rest grouped by reason); the accelerator's op calls, MACs and
// estimated cycles over all runs. Throws std::runtime_error naming `library` when the document lacks what is printed.
void print_systolic_ep_report(std::ostream& out, const std::string& json, const std::string& library);

}  // namespace ort_test
