using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Machine;
using Vmm.Core.Options;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Engine;

/// <summary>
/// Runs a parsed scenario: creates a DI scope for the run, binds the scenario's options into the scope's
/// <see cref="ScenarioOptionsSource"/>, resolves one component of each kind by name, then executes the steps
/// in order on a fresh machine. After the machine has ended (host-panic, shutdown) later steps are not run.
/// </summary>
public sealed class ScenarioRunner(IServiceProvider services)
{
    /// <summary>Component names used when neither the scenario nor the run names one.</summary>
    public static IReadOnlyDictionary<ComponentKind, string> DefaultComponents { get; } = new Dictionary<ComponentKind, string>
    {
        [ComponentKind.Memory] = "plain",
        [ComponentKind.Policy] = "none",
        [ComponentKind.Thp] = "split",
        [ComponentKind.Faults] = "linux",
        [ComponentKind.PageTable] = "x86-64",
    };

    /// <summary>
    /// Runs every step; <paramref name="onStep"/> sees each result as soon as it is known. A cancelled
    /// <paramref name="cancellationToken"/> stops the run between steps with <see cref="OperationCanceledException"/>.
    /// </summary>
    public ScenarioResult Run(Scenario scenario, RunOverrides? overrides = null, Action<StepResult>? onStep = null, CancellationToken cancellationToken = default)
    {
        using var run = Start(scenario, overrides);
        foreach (var step in run.Steps(cancellationToken)) onStep?.Invoke(step);
        return run.Finish();
    }

    /// <summary>
    /// Prepares a run (options bound, components resolved; bad input throws here) and returns it unstarted:
    /// enumerate <see cref="ScenarioRun.Steps"/> to execute step by step, then <see cref="ScenarioRun.Finish"/>.
    /// </summary>
    public ScenarioRun Start(Scenario scenario, RunOverrides? overrides = null)
    {
        var prepared = Prepare(scenario, overrides ?? RunOverrides.None);
        try
        {
            var factory = prepared.Scope.ServiceProvider.GetService<IScenarioMachineFactory>() ?? new SimulationMachineFactory();
            var machine = factory.Create(prepared.Scenario, prepared.Components);
            return new ScenarioRun(scenario, prepared.Scenario, machine, prepared.Names, prepared.Scope) { ContentsFree = !prepared.Components.Contents.KeepsContents };
        }
        catch
        {
            prepared.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Checks options and components as a run would, without running: throws <see cref="ScenarioException"/> on
    /// bad input, and returns what is valid but probably unintended (options of components the run does not use).
    /// </summary>
    public IReadOnlyList<ScenarioWarning> Validate(Scenario scenario, RunOverrides? overrides = null)
    {
        using var run = Prepare(scenario, overrides ?? RunOverrides.None);
        return run.Warnings;
    }

    private static ComponentOptionsException? FindOptionsError(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is ComponentOptionsException bad) return bad;
        return null;
    }

    private PreparedRun Prepare(Scenario scenario, RunOverrides overrides)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        var names = new Dictionary<ComponentKind, string>(DefaultComponents);
        foreach (var (kind, name) in scenario.Components) names[kind] = name;
        foreach (var (kind, name) in overrides.Components) names[kind] = name;
        if (!scenario.Vms.Exists(vm => vm.Thp)) names.Remove(ComponentKind.Thp);

        var scope = services.CreateScope();
        try
        {
            var provider = scope.ServiceProvider;
            var descriptors = provider.GetServices<ComponentDescriptor>().ToList();
            var options = provider.GetService<ScenarioOptionsSource>()
                ?? throw new InvalidOperationException("ScenarioOptionsSource is not registered: call services.AddVmmCore().");
            var scenarioOptions = overrides.ContentsFree ? ContentsFreeOptions(scenario) : scenario.Options;
            options.Configure(scenarioOptions, descriptors, names);

            T Resolve<T>(ComponentKind kind) where T : class
            {
                var name = names[kind];
                if (!descriptors.Exists(d => d.Kind == kind && d.Name == name))
                {
                    var fromOverride = overrides.Components.ContainsKey(kind);
                    var known = descriptors.Where(d => d.Kind == kind).Select(d => d.Name).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
                    var location = fromOverride ? new SourceLocation(scenario.File, 0, 0) : scenario.LocationOf(kind);
                    if (kind == ComponentKind.Thp && !fromOverride && !scenario.Components.ContainsKey(kind) && scenario.Vms.Find(vm => vm.Thp) is { } thpVm)
                        throw new ScenarioException(
                            $"vm '{thpVm.Name}' has thp: true, which needs a huge-page strategy, but no plugin registers thp '{name}' (known: {(known.Count > 0 ? string.Join(", ", known) : "none")}); add a THP plugin to plugins.json, name a known one in components.thp, or set thp: false",
                            thpVm.Location);
                    throw new ScenarioException(
                        $"unknown {kind.Key()} '{NameHints.Shorten(name)}'{(fromOverride ? " (from --set)" : "")}{NameHints.DidYouMean(name, known)}; known: {(known.Count > 0 ? string.Join(", ", known) : "none (no plugin registers one; check plugins.json)")}",
                        location);
                }
                try
                {
                    return provider.GetRequiredKeyedService<T>(name);
                }
                catch (Exception e) when (FindOptionsError(e) is { } bad)
                {
                    var location = bad.Option is not null && scenario.Options.TryGetValue(bad.Option, out var option)
                        ? option.Location
                        : scenario.LocationOf(kind);
                    throw new ScenarioException($"{kind.Key()} '{name}': {bad.Message}", location);
                }
            }

            var components = new SimulationComponents(
                Resolve<IMemoryController>(ComponentKind.Memory),
                Resolve<IPrivateMemoryPolicy>(ComponentKind.Policy),
                Resolve<IFaultDelivery>(ComponentKind.Faults),
                Resolve<IPageTableFactory>(ComponentKind.PageTable),
                names.ContainsKey(ComponentKind.Thp) ? Resolve<IHugePageStrategy>(ComponentKind.Thp) : null,
                options.Get<KernelOptions>(KernelOptions.Section),
                options.Get<CostOptions>(CostOptions.Section))
            {
                Services = provider.GetRequiredService<KernelServices>(),
                Contents = provider.GetRequiredService<PhysicalMemory>(),
                Ledger = provider.GetRequiredService<CostLedger>(),
                Kvm = options.Get<KvmOptions>(KvmOptions.Section),
            };

            var effective = scenario with
            {
                Kernel = overrides.Kernel ?? scenario.Kernel,
                Components = new Dictionary<ComponentKind, string>(names),
                Options = scenarioOptions,
            };
            return new PreparedRun(scope, effective, components, names) { Warnings = options.Warnings.ToList() };
        }
        catch
        {
            scope.Dispose();
            throw;
        }
    }

    /// <summary>The scenario's options with memory.contents "none" (--contents-free), at the file's start as --set's overrides are.</summary>
    private static Dictionary<string, (System.Text.Json.JsonElement, SourceLocation)> ContentsFreeOptions(Scenario scenario) =>
        new(scenario.Options, StringComparer.Ordinal)
        {
            [$"{MemoryOptions.Section}.contents"] = (System.Text.Json.JsonSerializer.SerializeToElement("none"), new SourceLocation(scenario.File, 0, 0)),
        };

    private sealed record PreparedRun(IServiceScope Scope, Scenario Scenario, SimulationComponents Components, IReadOnlyDictionary<ComponentKind, string> Names) : IDisposable
    {
        public IReadOnlyList<ScenarioWarning> Warnings { get; init; } = [];

        public void Dispose() => Scope.Dispose();
    }
}
