"""The markdown-table helper."""

import unittest

from migrate_tools import mdtable


class TestTable(unittest.TestCase):
    def test_table(self):
        self.assertEqual(
            mdtable.table(["build", "total s"], [["patched", "1.20"],
                                                 ["stock", 2]]),
            ["| build | total s |", "|---|---|", "| patched | 1.20 |",
             "| stock | 2 |"])

    def test_no_rows(self):
        self.assertEqual(mdtable.table(["a"], []), ["| a |", "|---|"])

    def test_align(self):
        self.assertEqual(mdtable.separator(4, "-lcr"),
                         "|---|:---|:---:|---:|")
        self.assertEqual(mdtable.header(["n", "MiB"], "rr"),
                         ["| n | MiB |", "|---:|---:|"])
        with self.assertRaises(ValueError):
            mdtable.separator(2, "r")
        with self.assertRaises(ValueError):
            mdtable.separator(1, "x")

    def test_cells(self):
        # Empty cells are one space; anything else through str().
        self.assertEqual(mdtable.row(["x", "", None, [0.5, 1]]),
                         "| x | | None | [0.5, 1] |")
        self.assertEqual(mdtable.row(["", ""]), "| | |")
        self.assertEqual(mdtable.row([0]), "| 0 |")

    def test_escapes(self):
        # A cell never splits into two cells nor ends the row.
        self.assertEqual(mdtable.row(["a|b", "line 1\nline 2"]),
                         "| a\\|b | line 1 line 2 |")

    def test_width_checked(self):
        with self.assertRaises(ValueError):
            mdtable.table(["a", "b"], [["1"]])
        with self.assertRaises(ValueError):
            mdtable.table(["a"], [["1", "2"]])


if __name__ == "__main__":
    unittest.main()
