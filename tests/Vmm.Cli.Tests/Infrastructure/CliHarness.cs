using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console.Testing;
using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Engine.Ops;
using Vmm.Core.Scenarios;
using Vmm.Tests.Infrastructure;

namespace Vmm.Cli.Tests.Infrastructure;

/// <summary>
/// A stand-in machine with fixed, simple behaviour: reads return zeros, GUP returns the page count, a consumed
/// memory error panics the host, inspect reports an unpoisoned page owned by the step's VM, "vm.destroy"
/// throws (an internal error). Everything else is ok. <paramref name="beforeStep"/> runs first (a slow or stuck step).
/// </summary>
internal sealed class FakeMachine(Action<StepSpec>? beforeStep = null) : IScenarioMachine
{
    public bool Ended { get; private set; }
    public IReadOnlyList<string> Warnings { get; } = ["fake machine: nothing was simulated"];
    public CostLedger Ledger { get; } = new();

    public Outcome Execute(StepSpec step)
    {
        beforeStep?.Invoke(step);
        Ledger.Add(CostKind.PageFault);
        var outcome = step.Op switch
        {
            HostRead read => Outcome.OkData(new byte[(int)read.Len]),
            KernelRead read => Outcome.OkData(new byte[(int)read.Len]),
            GuestRead read => Outcome.OkData(new byte[(int)read.Len]),
            HostGup gup => Outcome.OkCount(gup.Pages),
            MemoryError { Consumed: true } => Outcome.HostPanic("poison consumed"),
            Inspect => Outcome.Inspected(new Dictionary<string, object?>
            {
                ["hwpoison"] = false,
                ["owner"] = step.Op.At.Vm,
                ["lines"] = new Dictionary<string, object?> { ["poisoned"] = 0 },
            }),
            VmDestroy => throw new InvalidOperationException("fake machine bug"),
            _ => Outcome.Ok(),
        };
        Ended |= outcome.EndsMachine;
        return outcome;
    }
}

internal sealed class FakeMachineFactory(Action<StepSpec>? beforeStep = null) : IScenarioMachineFactory
{
    public IScenarioMachine Create(Scenario scenario, SimulationComponents components) => new FakeMachine(beforeStep);
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

    /// <summary>The machines scenarios run on (by default <see cref="FakeMachineFactory"/> with no delays).</summary>
    public IScenarioMachineFactory? Machines { get; set; } = new FakeMachineFactory();

    /// <summary>More services for the host, after the plugins and <see cref="Machines"/> (components that misbehave).</summary>
    public Action<IServiceCollection>? Services { get; set; }

    /// <summary>How long vmm waits past --timeout for a step that does not return.</summary>
    public TimeSpan TimeoutGrace { get; set; } = TimeSpan.FromSeconds(2);

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

    /// <summary>vmm with stdout and stderr redirected (plain text, no live display).</summary>
    public CliResult Vmm(params string[] args) => Run(PluginsJson, args, terminal: false);

    /// <summary>vmm on an interactive terminal that understands ANSI: Spectre TestConsoles 100 columns wide for stdout and stderr.</summary>
    public CliResult VmmInTerminal(params string[] args) => Run(PluginsJson, args, terminal: true);

    public static CliResult VmmWithPlugins(string? pluginsJson, params string[] args)
    {
        using var cli = new CliHarness(pluginsJson);
        return cli.Run(pluginsJson, args, terminal: false);
    }

    private CliHarness(string? pluginsJson) => PluginsJson = pluginsJson ?? "";

    private CliResult Run(string? pluginsJson, string[] args, bool terminal)
    {
        var command = args.Length > 0 && !string.IsNullOrEmpty(pluginsJson) && args[0] is "run" or "plugins" && !args.Contains("--plugins")
            ? [args[0], "--plugins", pluginsJson, .. args[1..]]
            : args;
        void ConfigureServices(IServiceCollection services)
        {
            if (Machines is not null) services.AddSingleton(Machines);
            Services?.Invoke(services);
        }
        if (!terminal)
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            var code = Program.Run(command, new CliContext(stdout, stderr, ConfigureServices) { TimeoutGrace = TimeoutGrace });
            return new CliResult(code, stdout.ToString(), stderr.ToString());
        }
        using var outConsole = Terminal();
        using var errorConsole = Terminal();
        var context = new CliContext(outConsole.Profile.Out.Writer, errorConsole.Profile.Out.Writer, ConfigureServices)
        {
            OutConsole = outConsole,
            ErrorConsole = errorConsole,
            TimeoutGrace = TimeoutGrace,
        };
        var exitCode = Program.Run(command, context);
        return new CliResult(exitCode, outConsole.Output, errorConsole.Output);
    }

    private static TestConsole Terminal() => new TestConsole().Interactive().EmitAnsiSequences().Width(100);

    public void Dispose() => _scratch.Dispose();
}

internal sealed partial record CliResult(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>Stdout without ANSI escape sequences (colours, cursor moves).</summary>
    public string PlainStdout => Plain(Stdout);

    /// <summary>Stderr without ANSI escape sequences.</summary>
    public string PlainStderr => Plain(Stderr);

    public static string Plain(string text) => AnsiSequence().Replace(text, "");

    /// <summary>Plain text with every run of white space (a line wrapped by the terminal's width too) as one space.</summary>
    public static string Flat(string text) => WhiteSpace().Replace(Plain(text), " ");

    [GeneratedRegex(@"\s+")]
    private static partial Regex WhiteSpace();

    [GeneratedRegex(@"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[=>])")]
    private static partial Regex AnsiSequence();

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}
