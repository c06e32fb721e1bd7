using System.Text.Json;
using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Options;

/// <summary>
/// The run scope's <see cref="IComponentOptionsSource"/>: the runner hands it the scenario's `options` right
/// after creating the scope, before any component is resolved. <see cref="Configure"/> checks every key so a
/// typo stops the run before it starts.
/// </summary>
public sealed class ScenarioOptionsSource : IComponentOptionsSource
{
    private readonly Dictionary<string, List<OptionValue>> _bySection = new(StringComparer.Ordinal);

    /// <summary>Option sections of the core itself: "linux" (<see cref="KernelOptions"/>) and "cost" (<see cref="CostOptions"/>).</summary>
    public static IReadOnlyDictionary<string, Type> CoreSections { get; } = new Dictionary<string, Type>(StringComparer.Ordinal)
    {
        [KernelOptions.Section] = typeof(KernelOptions),
        [CostOptions.Section] = typeof(CostOptions),
    };

    /// <summary>
    /// Takes the scenario's options ("section.option" → value) and checks each against the core sections and
    /// the registered components' options classes: unknown section, unknown option or a value of the wrong
    /// type is a <see cref="ScenarioException"/> at the option's location.
    /// </summary>
    public void Configure(IEnumerable<KeyValuePair<string, (JsonElement Value, SourceLocation Location)>> options, IEnumerable<ComponentDescriptor> descriptors)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(descriptors);
        var components = descriptors.ToList();
        var sections = new Dictionary<string, List<Type>>(StringComparer.Ordinal);
        foreach (var (section, type) in CoreSections) sections[section] = [type];
        foreach (var descriptor in components)
        {
            if (descriptor.OptionsType is null || descriptor.OptionsSection is null) continue;
            if (!sections.TryGetValue(descriptor.OptionsSection, out var types)) sections[descriptor.OptionsSection] = types = [];
            if (!types.Contains(descriptor.OptionsType)) types.Add(descriptor.OptionsType);
        }

        _bySection.Clear();
        foreach (var (key, (value, location)) in options)
        {
            var dot = key.IndexOf('.', StringComparison.Ordinal);
            if (dot <= 0 || dot == key.Length - 1)
                throw new ScenarioException($"option \"{key}\" needs a component: write \"<component>.<option>\", for example \"linux.earlyKill\"", location);
            var section = key[..dot];
            var option = key[(dot + 1)..];
            if (!sections.TryGetValue(section, out var types))
            {
                throw new ScenarioException(components.Any(d => d.Name == section)
                    ? $"component \"{section}\" takes no options; remove \"{key}\""
                    : $"unknown option section \"{section}\" in \"{key}\"; known sections: {string.Join(", ", sections.Keys.Order(StringComparer.Ordinal))}",
                    location);
            }
            var matching = types.Select(t => OptionsBinder.FindProperty(t, option)).OfType<System.Reflection.PropertyInfo>().ToList();
            if (matching.Count == 0)
            {
                var known = types.SelectMany(OptionsBinder.OptionNames).Distinct(StringComparer.Ordinal);
                throw new ScenarioException($"unknown option \"{option}\" for \"{section}\"; known: {string.Join(", ", known)}", location);
            }
            var entry = new OptionValue(option, value, location);
            foreach (var property in matching) OptionsBinder.Convert(property, section, entry);
            if (!_bySection.TryGetValue(section, out var list)) _bySection[section] = list = [];
            list.Add(entry);
        }
    }

    public TOptions Get<TOptions>(string section) where TOptions : class, new() =>
        OptionsBinder.Bind<TOptions>(section, _bySection.TryGetValue(section, out var values) ? values : []);
}
