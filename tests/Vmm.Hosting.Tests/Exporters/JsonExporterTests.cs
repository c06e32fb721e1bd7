using Vmm.Hosting.Exporters;

namespace Vmm.Hosting.Tests.Exporters;

public sealed class JsonExporterTests
{
    [Fact]
    public void Export_MixedRun_IsTheVmmRunJsonDocument()
    {
        var output = new StringWriter();

        JsonExporter.Default.Export(FakeRuns.Mixed, output);

        Assert.Equal("""
            {
              "scenarios": [
                {
                  "file": "scenarios/k01.json",
                  "name": "K1: a VMM touch gets SIGBUS",
                  "passed": true,
                  "steps": [
                    {
                      "index": 1,
                      "op": "host.write",
                      "expected": "ok",
                      "actual": "ok",
                      "passed": true
                    },
                    {
                      "index": 2,
                      "op": "host.read",
                      "expected": {
                        "sigbus": {
                          "code": "BUS_MCEERR_AR",
                          "lsb": 12
                        }
                      },
                      "actual": {
                        "sigbus": {
                          "code": "BUS_MCEERR_AR",
                          "lsb": 12
                        }
                      },
                      "passed": true
                    },
                    {
                      "index": 3,
                      "op": "host.fork",
                      "expected": null,
                      "actual": "ok",
                      "passed": true
                    }
                  ],
                  "kernel": "5.16",
                  "components": {
                    "memory": "plain",
                    "policy": "none"
                  },
                  "warnings": [],
                  "costs": {
                    "modelledNs": 1250.5,
                    "counts": {
                      "PageFault": 3,
                      "TlbFlush": 1
                    }
                  }
                },
                {
                  "file": "scenarios/v2 | pipe.json",
                  "name": "P2: a *starred* name",
                  "passed": false,
                  "steps": [
                    {
                      "index": 1,
                      "op": "inspect",
                      "expected": {
                        "state": {
                          "hwpoison": true
                        }
                      },
                      "actual": {
                        "state": {
                          "hwpoison": false,
                          "owner": "vm1"
                        }
                      },
                      "passed": false,
                      "reason": "owner map says shared"
                    }
                  ],
                  "kernel": "6.11",
                  "components": {
                    "memory": "tdx-ci",
                    "policy": "hwpoison-v2"
                  },
                  "warnings": [
                    "hwpoison: 33 shared ranges, the cap is 32"
                  ],
                  "costs": {
                    "modelledNs": 0,
                    "counts": {}
                  }
                }
              ],
              "errors": [
                {
                  "file": "scenarios/bad.json",
                  "line": 3,
                  "column": 14,
                  "message": "unknown op 'host.reed'; did you mean 'host.read'?"
                }
              ],
              "timedOut": [
                {
                  "file": "scenarios/slow.json",
                  "name": "slow",
                  "seconds": 1.5,
                  "stepsDone": 2,
                  "message": "scenarios/slow.json: stopped after 1.5 s (--timeout) with 2 of 4 steps done"
                }
              ]
            }

            """.ReplaceLineEndings(Environment.NewLine), output.ToString().ReplaceLineEndings(Environment.NewLine));
    }

    [Fact]
    public void Export_NothingWrong_HasOnlyTheScenarios()
    {
        var output = new StringWriter();

        JsonExporter.Default.Export(new RunReport([], [], [], []), output);

        Assert.Equal("{\n  \"scenarios\": []\n}" + Environment.NewLine, output.ToString());
    }
}
