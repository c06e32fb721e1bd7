using Vmm.Hosting.Exporters;

namespace Vmm.Hosting.Tests.Exporters;

public sealed class MarkdownExporterTests
{
    [Fact]
    public void Export_MixedRun_IsATablePerScenarioAndTheSummary()
    {
        var output = new StringWriter();

        MarkdownExporter.Default.Export(FakeRuns.Mixed, output);

        Assert.Equal("""
            # vmm run

            ## ✓ K1: a VMM touch gets SIGBUS

            `scenarios/k01.json`: memory plain, policy none, kernel 5.16

            | # | op | expected | actual | pass |
            |--:|----|----------|--------|:----:|
            | 1 | host.write | ok | ok | ✓ |
            | 2 | host.read | sigbus BUS\_MCEERR\_AR lsb 12 | sigbus BUS\_MCEERR\_AR lsb 12 | ✓ |
            | 3 | host.fork | - | ok | ✓ |

            ## ✗ P2: a \*starred\* name

            `scenarios/v2 | pipe.json`: memory tdx-ci, policy hwpoison-v2, kernel 6.11

            | # | op | expected | actual | pass |
            |--:|----|----------|--------|:----:|
            | 1 | inspect | state hwpoison=true | state hwpoison=false | ✗ |

            - warning: hwpoison: 33 shared ranges, the cap is 32

            ## Invalid

            - `scenarios/bad.json:3:14`: unknown op 'host.reed'; did you mean 'host.read'?

            ## Timed out

            - scenarios/slow.json: stopped after 1.5 s (--timeout) with 2 of 4 steps done

            ## Internal errors

            - `scenarios/bug.json`: System.InvalidOperationException: fake bug

            **5 scenarios, 1 passed, 1 failed, 1 invalid, 1 timed out, 1 internal error**

            """, output.ToString());
    }

    [Fact]
    public void Export_CellWithPipeAndNewline_StaysOneTableCell()
    {
        var step = new StepReport(1, "host.read", null, null, "\"ok\"", "a|b\nc", true);
        var report = new RunReport([FakeRuns.Passing with { Steps = [step] }], [], [], []);
        var output = new StringWriter();

        MarkdownExporter.Default.Export(report, output);

        Assert.Contains("| 1 | host.read | - | a\\|b c | ✓ |\n", output.ToString(), StringComparison.Ordinal);
    }
}
