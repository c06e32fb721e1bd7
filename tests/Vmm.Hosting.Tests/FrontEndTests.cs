using Vmm.Abstractions;
using Vmm.Hosting.Exporters;
using Vmm.Tests.Infrastructure;

namespace Vmm.Hosting.Tests;

/// <summary>README's "Hosting the engine in your own front end", with the repository's plugins: no Vmm.Core namespace is needed.</summary>
public sealed class FrontEndTests
{
    private static string PluginsJson => Path.Combine(TestPaths.RepoRoot, "plugins.json");

    [Fact]
    public void ValidateThenRun_RealScenario_StreamsStepReportsAndPasses()
    {
        using var host = VmmHost.Load(PluginsJson);
        var file = Path.Combine(TestPaths.RepoRoot, "scenarios/kernel/k01-vmm-touch-of-hwpoison-entry.json");
        var streamed = new List<StepReport>();

        var scenario = host.Validate(file);
        var result = host.Run(scenario, ScenarioOverrides.None, streamed.Add);

        Assert.True(scenario.IsValid, scenario.Error?.ToString());
        Assert.True(result.Passed);
        Assert.Equal(result.Steps, streamed);
        Assert.Equal("""{"sigbus":{"code":"BUS_MCEERR_AR","lsb":12}}""", result.Steps[3].ActualJson);
        Assert.Equal("sigbus BUS_MCEERR_AR lsb 12", result.Steps[3].ActualText);
        Assert.Equal([new ComponentChoice("memory", "plain"), new ComponentChoice("policy", "none")], result.Components.Take(2));
    }

    [Fact]
    public void Run_InvalidValidation_IsAnArgumentError()
    {
        using var scratch = new ScratchDirectory();
        using var host = VmmHost.Load(PluginsJson);
        var invalid = host.Validate(scratch.Write("bad.json", "{"));

        Assert.False(invalid.IsValid);
        Assert.Throws<ArgumentException>(() => host.Run(invalid));
    }

    [Fact]
    public void Batch_KernelOverride_ReportsAndExportsTheRun()
    {
        using var host = VmmHost.Load(PluginsJson);
        var batch = new ScenarioBatch(host, new BatchOptions { Overrides = new ScenarioOverrides { Kernel = new KernelVersion(6, 11) } });
        var started = new List<BatchItem>();
        batch.ScenarioStarting += started.Add;

        var report = batch.Run([Path.Combine(TestPaths.RepoRoot, "scenarios/kernel/k19-madvise-hwpoison-6.11.json")]);
        var markdown = new StringWriter();
        MarkdownExporter.Default.Export(report, markdown);

        Assert.Equal(1, Assert.Single(started).Count);
        Assert.Equal("6.11", Assert.Single(report.Scenarios).Kernel);
        Assert.EndsWith("**1 scenarios, 1 passed, 0 failed**\n", markdown.ToString(), StringComparison.Ordinal);
    }
}

/// <summary>Issue 9: a front end that references only Vmm.Hosting (and Abstractions) never meets a Vmm.Core type.</summary>
public sealed class PublicApiTests
{
    [Fact]
    public void HostingPublicApi_ExposesNoCoreType()
    {
        var flags = System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.DeclaredOnly;
        var leaks = new List<string>();
        foreach (var type in typeof(VmmHost).Assembly.GetExportedTypes())
        {
            foreach (var member in type.GetMembers(flags))
            {
                var types = member switch
                {
                    System.Reflection.MethodInfo m => m.GetParameters().Select(p => p.ParameterType).Append(m.ReturnType),
                    System.Reflection.PropertyInfo p => [p.PropertyType],
                    System.Reflection.FieldInfo f => [f.FieldType],
                    System.Reflection.ConstructorInfo c => c.GetParameters().Select(p => p.ParameterType),
                    System.Reflection.EventInfo e => [e.EventHandlerType!],
                    _ => [],
                };
                foreach (var used in types.SelectMany(Flatten))
                    if (used.Assembly.GetName().Name == "Vmm.Core") leaks.Add($"{type.Name}.{member.Name}: {used.Name}");
            }
        }

        Assert.Empty(leaks);
    }

    private static IEnumerable<Type> Flatten(Type type) =>
        type.HasElementType ? Flatten(type.GetElementType()!)
        : type.IsGenericType ? type.GetGenericArguments().SelectMany(Flatten).Prepend(type)
        : [type];
}
