using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;
using Vmm.Tests.Infrastructure;

namespace Vmm.Cli.Tests.Infrastructure;

/// <summary>
/// A stand-in machine with fixed, simple behaviour: reads return zeros, GUP returns the page count, a consumed
/// memory error panics the host, inspect reports an unpoisoned page owned by the step's VM, "vm.destroy"
/// throws (an internal error). Everything else is ok.
/// </summary>
internal sealed class FakeMachine : IScenarioMachine
{
    public bool Ended { get; private set; }
    public IReadOnlyList<string> Warnings { get; } = ["fake machine: nothing was simulated"];
    public CostLedger Ledger { get; } = new();

    public Outcome Execute(StepSpec step)
    {
        Ledger.Add(CostKind.PageFault);
        var outcome = step.Op switch
        {
            "host.read" or "kernel.read" or "guest.read" => Outcome.OkData(new byte[(int)(step.Len ?? 0)]),
            "host.gup" => Outcome.OkCount(step.Pages ?? 1),
            "hw.memory-error" when step.Consumed == true => Outcome.HostPanic("poison consumed"),
            "inspect" => Outcome.Inspected(new Dictionary<string, object?>
            {
                ["hwpoison"] = false,
                ["owner"] = step.Vm,
                ["lines"] = new Dictionary<string, object?> { ["poisoned"] = 0 },
            }),
            "vm.destroy" => throw new InvalidOperationException("fake machine bug"),
            _ => Outcome.Ok(),
        };
        Ended |= outcome.EndsMachine;
        return outcome;
    }
}

internal sealed class FakeMachineFactory : IScenarioMachineFactory
{
    public IScenarioMachine Create(Scenario scenario, SimulationComponents components) => new FakeMachine();
}

/// <summary>Runs <c>vmm</c> in-process against the Fakes test plugin and the fake machine.</summary>
internal sealed class CliHarness : IDisposable
{
    public const string Components = """
        "components": { "memory": "test-memory", "policy": "test-policy", "faults": "test-faults", "pagetable": "test-pagetable" },
        """;

    private readonly ScratchDirectory _scratch = new();

    public CliHarness() => PluginsJson = _scratch.PluginsJson(("Fakes", TestPaths.TestPlugin("Vmm.TestPlugins.Fakes")));

    public string PluginsJson { get; }

    public string Directory => _scratch.Path;

    public string Write(string name, string content) => _scratch.Write(name, content);

    /// <summary>A scenario with the fake components, one VM "vm1", and the given steps.</summary>
    public string Scenario(string name, string steps, string extra = "") =>
        Write(name, $$"""
            {
              "name": "{{Path.GetFileNameWithoutExtension(name)}}", {{Components}}{{extra}}
              "vms": [ { "name": "vm1", "memory": "8M", "backing": "anon" } ],
              "steps": {{steps}}
            }
            """);

    public CliResult Vmm(params string[] args) => VmmWithPlugins(PluginsJson, args);

    public static CliResult VmmWithPlugins(string? pluginsJson, params string[] args)
    {
        var command = args.Length > 0 && pluginsJson is not null && args[0] is "run" or "plugins"
            ? [args[0], "--plugins", pluginsJson, .. args[1..]]
            : args;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = Program.Run(command, stdout, stderr, services => services.AddSingleton<IScenarioMachineFactory>(new FakeMachineFactory()));
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }

    public void Dispose() => _scratch.Dispose();
}

internal sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}
