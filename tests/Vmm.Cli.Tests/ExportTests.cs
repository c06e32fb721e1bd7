using Vmm.Cli.Tests.Infrastructure;

namespace Vmm.Cli.Tests;

/// <summary><c>vmm run --json</c> pinned byte for byte, and <c>--export NAMES --output DIR [--force]</c>, which writes the same documents as files.</summary>
public sealed class ExportTests
{
    private const string Steps = """
        [
          { "op": "host.write", "vm": "vm1", "gpa": "0x1000", "data": "0x0102", "expect": "ok" },
          { "op": "host.read", "vm": "vm1", "gpa": "0x1000", "len": 2, "expect": { "sigbus": { "code": "BUS_MCEERR_AR", "lsb": 12 } } },
          { "op": "host.fork" }
        ]
        """;

    [Fact]
    public void RunJson_FixedRun_IsExactlyThisDocument()
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("fixed.json", Steps);

        var result = cli.Vmm("run", "--json", file);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Equal(FixedRunJson(file), result.Stdout);
    }

    [Fact]
    public void Export_MdAndJson_WritesBothFilesAndSaysWhere()
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("fixed.json", Steps);
        var output = Path.Combine(cli.Directory, "out");

        var result = cli.Vmm("run", "--export", "md,json", "--output", output, file);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Equal(FixedRunJson(file), File.ReadAllText(Path.Combine(output, "run.json")));
        var markdown = File.ReadAllText(Path.Combine(output, "run.md"));
        Assert.Contains("| 1 | host.read | sigbus BUS\\_MCEERR\\_AR lsb 12 | ok data=0x0000 | ✗ |\n", markdown, StringComparison.Ordinal);
        Assert.EndsWith("**1 scenarios, 0 passed, 1 failed**\n", markdown, StringComparison.Ordinal);
        Assert.Equal($"vmm: wrote {Path.Combine(output, "run.md")}\nvmm: wrote {Path.Combine(output, "run.json")}\n", result.Stderr.ReplaceLineEndings("\n"));
        Assert.EndsWith("1 scenarios, 0 passed, 1 failed" + Environment.NewLine, result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Export_FileAlreadyThere_Exits2NamingTheFileAndTheFixAndRunsNothing()
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("fixed.json", Steps);
        var existing = cli.Write("out/run.md", "mine");

        var result = cli.Vmm("run", "--export", "json,md", "--output", Path.GetDirectoryName(existing)!, file);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal($"vmm: --export: {existing} already exists; give --force to overwrite it, or another --output\n", result.Stderr.ReplaceLineEndings("\n"));
        Assert.Equal("", result.Stdout);
        Assert.Equal("mine", File.ReadAllText(existing));
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(existing)!, "run.json")));
    }

    [Fact]
    public void Export_WithForce_OverwritesTheFile()
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("fixed.json", Steps);
        var existing = cli.Write("out/run.json", "mine");

        var result = cli.Vmm("run", "--export", "json", "--output", Path.GetDirectoryName(existing)!, "--force", file);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Equal(FixedRunJson(file), File.ReadAllText(existing));
    }

    [Fact]
    public void Export_UnknownName_Exits2ListingTheExporters()
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("fixed.json", Steps);

        var result = cli.Vmm("run", "--export", "md,jsn", "--output", Path.Combine(cli.Directory, "out"), file);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal("vmm: --export: unknown exporter \"jsn\"; known: json, md\n", result.Stderr.ReplaceLineEndings("\n"));
        Assert.False(Directory.Exists(Path.Combine(cli.Directory, "out")));
    }

    [Fact]
    public void Output_WithoutExport_Exits2()
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("fixed.json", Steps);

        var result = cli.Vmm("run", "--output", "out", file);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal("vmm: --output: give --export too, e.g. --export md,json --output out\n", result.Stderr.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void RunHelp_DocumentsExportOutputAndForce()
    {
        using var cli = new CliHarness();

        var result = cli.Vmm("run", "--help");

        Assert.Contains("--export md,json --output DIR also writes the run", CliResult.Flat(result.Stdout), StringComparison.Ordinal);
        Assert.Contains("--force", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("json, md", result.Stdout, StringComparison.Ordinal);
    }

    private static string FixedRunJson(string file) => $$"""
        {
          "scenarios": [
            {
              "file": "{{file}}",
              "name": "fixed",
              "passed": false,
              "steps": [
                {
                  "index": 0,
                  "op": "host.write",
                  "expected": "ok",
                  "actual": "ok",
                  "passed": true
                },
                {
                  "index": 1,
                  "op": "host.read",
                  "expected": {
                    "sigbus": {
                      "code": "BUS_MCEERR_AR",
                      "lsb": 12
                    }
                  },
                  "actual": {
                    "ok": {
                      "data": "0x0000"
                    }
                  },
                  "passed": false
                },
                {
                  "index": 2,
                  "op": "host.fork",
                  "expected": null,
                  "actual": "ok",
                  "passed": true
                }
              ],
              "kernel": "5.16",
              "components": {
                "memory": "test-memory",
                "policy": "test-policy",
                "faults": "test-faults",
                "pagetable": "test-pagetable"
              },
              "warnings": [
                "fake machine: nothing was simulated"
              ],
              "costs": {
                "modelledNs": 1500,
                "counts": {
                  "PageFault": 3
                }
              }
            }
          ]
        }

        """.ReplaceLineEndings(Environment.NewLine);
}
