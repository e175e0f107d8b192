import { describe, expect, it } from 'vitest';
import { BadInputError } from '../lib/errors.js';
import {
  DIFFUSION_TEMPLATE_VARIANTS,
  PAPER_DIFFUSION_TEMPLATE,
  PAPER_LLM_SETTINGS,
  PAPER_LLM_TEMPLATES,
  displayName,
  fillTemplate,
  promptsForClass,
} from '../lib/prompts/index.js';

describe('paper templates', () => {
  it('are the paper\'s, verbatim', () => {
    expect(PAPER_DIFFUSION_TEMPLATE).toBe('a photo of a {}');
    expect(PAPER_LLM_TEMPLATES).toEqual([
      'Describe what a {} looks like?',
      'How can you identify a {}?',
      'What does a {} looks like?',
      'Describe an image from the internet of a {}?',
      'A caption of an image of {}:',
    ]);
    expect(PAPER_LLM_SETTINGS).toEqual({ model: 'davinci-002', temperature: 0.99, maxTokens: 20 });
    expect(DIFFUSION_TEMPLATE_VARIANTS[0]).toBe(PAPER_DIFFUSION_TEMPLATE);
    expect(DIFFUSION_TEMPLATE_VARIANTS.every((t) => t.includes('{}'))).toBe(true);
  });

  it('fill every placeholder; class names become words', () => {
    expect(fillTemplate('a photo of a {}', 'cat')).toBe('a photo of a cat');
    expect(fillTemplate('{} and {}', 'x')).toBe('x and x');
    expect(displayName('sea_turtle')).toBe('sea turtle');
  });
});

describe('promptsForClass', () => {
  it('defaults to the paper\'s template, one prompt per image', () => {
    const result = promptsForClass('airplane', { count: 3 });
    expect(result.prompts).toEqual(['a photo of a airplane', 'a photo of a airplane', 'a photo of a airplane']);
    expect(result.source).toBe('templates');
    expect(result.negativePrompt).toBeUndefined();
  });

  it('is deterministic and round-robin over templates (a shorter list is a prefix of a longer one)', () => {
    const options = { count: 10, templates: DIFFUSION_TEMPLATE_VARIANTS };
    const a = promptsForClass('ship', options);
    const b = promptsForClass('ship', options);
    expect(a).toEqual(b);
    expect(a.prompts[0]).toBe('a photo of a ship');
    expect(a.prompts[1]).toBe('a photo of the ship');
    expect(a.prompts[8]).toBe('a photo of a ship');
    expect(promptsForClass('ship', { ...options, count: 4 }).prompts).toEqual(a.prompts.slice(0, 4));
  });

  it('applies per-class overrides: name, templates, literal prompts, negative prompt', () => {
    const overrides = {
      automobile: { name: 'car', negativePrompt: 'cartoon' },
      dog: { templates: ['a {} in a park'] },
      cat: { prompts: ['a tabby cat on a sofa', 'a black cat'], negativePrompt: null },
    };
    const options = { count: 3, negativePrompt: 'blurry, low quality', overrides };
    expect(promptsForClass('automobile', options)).toMatchObject({ prompts: ['a photo of a car', 'a photo of a car', 'a photo of a car'], negativePrompt: 'cartoon', subject: 'car' });
    expect(promptsForClass('dog', options)).toMatchObject({ prompts: ['a dog in a park', 'a dog in a park', 'a dog in a park'], negativePrompt: 'blurry, low quality' });
    const cat = promptsForClass('cat', options);
    expect(cat.prompts).toEqual(['a tabby cat on a sofa', 'a black cat', 'a tabby cat on a sofa']);
    expect(cat.source).toBe('override-prompts');
    expect(cat.negativePrompt).toBeUndefined();
    expect(promptsForClass('frog', options).negativePrompt).toBe('blurry, low quality');
  });

  it('adds a personalised token: DreamBooth prefix or textual-inversion replace', () => {
    expect(promptsForClass('airplane', { count: 1, instanceToken: 'sks' }).prompts).toEqual(['a photo of a sks airplane']);
    expect(promptsForClass('airplane', { count: 1, instanceToken: '<airplane-ti>', tokenMode: 'replace' }).prompts).toEqual(['a photo of a <airplane-ti>']);
  });

  it('uses LLM-written prompts round-robin when given', () => {
    const result = promptsForClass('deer', { count: 3, llmPrompts: ['A deer in a forest.', 'A deer grazing.'] });
    expect(result.prompts).toEqual(['A deer in a forest.', 'A deer grazing.', 'A deer in a forest.']);
    expect(result.source).toBe('llm');
  });

  it('refuses bad input naming the class', () => {
    expect(() => promptsForClass('cat', { count: 1, templates: ['a photo'] })).toThrow(BadInputError);
    expect(() => promptsForClass('cat', { count: 1, templates: ['a photo'] })).toThrow(/class "cat".*no \{\} placeholder/);
    expect(() => promptsForClass('cat', { count: -1 })).toThrow(BadInputError);
    expect(() => promptsForClass('cat', { count: 1, templates: [] })).toThrow(BadInputError);
    expect(() => promptsForClass('cat', { count: 1, overrides: { cat: { prompts: [] } } })).toThrow(BadInputError);
    expect(() => promptsForClass('', { count: 1 })).toThrow(BadInputError);
  });
});
